// SPDX-License-Identifier: MIT
// @cachebroker/client: the TypeScript client of cachebrokerd.
export {
  Client,
  DEFAULT_URL,
  METHOD_PREFIX,
  newRequestId,
  replyInfo,
  type CallOptions,
  type ClientOptions,
  type RawReply,
  type ReplyInfo,
  type TlsOptions,
  type TypedCalls,
} from "./client.js";
export {
  findMethod,
  fullMethodName,
  METHODS,
  SERVICES,
  type MethodName,
  type MethodTable,
} from "./methods.js";
export * from "./status.js";
export { parseUrl, type Endpoint } from "./url.js";

// The messages and enums of proto/cachebroker/v1, for typing requests and
// responses and for enum values (SetCondition.IF_ABSENT, ...).
export * from "./gen/cachebroker/v1/admin_pb.js";
export * from "./gen/cachebroker/v1/auth_pb.js";
export * from "./gen/cachebroker/v1/cache_pb.js";
export * from "./gen/cachebroker/v1/envelope_pb.js";
export * from "./gen/cachebroker/v1/event_pb.js";
export * from "./gen/cachebroker/v1/feed_pb.js";
export * from "./gen/cachebroker/v1/warm_pb.js";
