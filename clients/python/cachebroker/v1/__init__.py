# SPDX-License-Identifier: MIT
# cachebroker.v1: the message classes, generated from proto/cachebroker/v1.
"""Message classes of package cachebroker.v1 (envelope_pb2, cache_pb2,
admin_pb2, event_pb2, feed_pb2, warm_pb2, auth_pb2). protoc writes them
next to this file when the project is built; they are not in the source
tree."""
