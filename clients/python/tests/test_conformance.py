# SPDX-License-Identifier: MIT
# The conformance runner's own rules (matching, placeholders, keys), no broker.
"""Tests of conformance.py's matching and step checks.

A runner whose matcher accepted everything would pass every vector; these
cases pin the rules of tests/conformance/README.md to the code.
"""

import time
import unittest

import conformance
from conformance import StepError, match


class MatchTest(unittest.TestCase):
    def ok(self, want, got):
        self.assertIsNone(match(want, got, "response"), (want, got))

    def bad(self, want, got, why=None):
        diff = match(want, got, "response")
        self.assertIsNotNone(diff, (want, got))
        if why is not None:
            self.assertIn(why, diff)

    def test_objects_are_subsets(self):
        self.ok({"found": True}, {"found": True, "ttl_ms": "5"})
        self.ok({}, {"found": False})
        self.bad({"found": True}, {"found": False}, "response.found")
        self.bad({"stored": True}, {"found": True},
                 "response.stored: missing")
        self.bad({"a": {"b": 1}}, {"a": {"b": 2}}, "response.a.b")

    def test_arrays_match_element_by_element(self):
        self.ok([{"key": "a"}, {"key": "b"}],
                [{"key": "a", "found": True}, {"key": "b", "found": False}])
        self.bad([{"key": "a"}], [{"key": "a"}, {"key": "b"}])
        self.bad([{"key": "b"}, {"key": "a"}],
                 [{"key": "a"}, {"key": "b"}], "response[0].key")
        self.bad([], {})

    def test_numbers_and_decimal_strings(self):
        self.ok(5, 5)
        self.ok(-2, "-2")
        self.ok(9007199254740993, "9007199254740993")
        self.bad(9007199254740992, "9007199254740993")
        self.ok(0.5, 0.5)
        self.bad(5, "6")
        self.bad(5, "five")
        self.bad("5", 5)
        self.bad(1, True)
        self.bad(True, 1)
        self.bad(0, False)

    def test_ranges(self):
        rng = {"$range": [1, 60000]}
        self.ok(rng, 1)
        self.ok(rng, "60000")
        self.bad(rng, 0)
        self.bad(rng, "60001")
        self.bad(rng, "-1")
        self.bad(rng, True)
        # Not a range: an object with another key matches as an object.
        self.bad({"$range": [1, 2], "x": 1}, 1)

    def test_strings_booleans_null(self):
        self.ok("aGk=", "aGk=")
        self.bad("aGk=", "aGk")
        self.ok(False, False)
        self.bad(False, None)
        self.ok(None, None)
        self.bad(None, "")
        self.ok("FETCH_SOURCE_CACHE", "FETCH_SOURCE_CACHE")


class Out(conformance.Outcome):
    def __init__(self, code="OK", message="", x_cache="", response=None):
        super().__init__()
        self.code, self.message = code, message
        self.x_cache, self.response = x_cache, response


class CheckTest(unittest.TestCase):
    def test_code_message_x_cache(self):
        conformance.check({"code": "OK"}, Out())
        with self.assertRaisesRegex(StepError, "got NOT_FOUND .*want OK"):
            conformance.check({"code": "OK"}, Out("NOT_FOUND", "gone"))
        conformance.check({"code": "NOT_FOUND", "message_contains": "go"},
                          Out("NOT_FOUND", "gone"))
        with self.assertRaisesRegex(StepError, "does not contain"):
            conformance.check(
                {"code": "NOT_FOUND", "message_contains": "x"},
                Out("NOT_FOUND", "gone"))
        conformance.check({"code": "OK", "x_cache": ""}, Out())
        with self.assertRaisesRegex(StepError, 'x-cache "hit"'):
            conformance.check({"code": "OK", "x_cache": ""},
                              Out(x_cache="hit"))

    def test_response_only_with_ok(self):
        with self.assertRaisesRegex(StepError, "only with code OK"):
            conformance.check({"code": "NOT_FOUND", "response": {}},
                              Out("NOT_FOUND"))
        with self.assertRaisesRegex(StepError, "only with code OK"):
            conformance.check({"code": "OK", "response": {}}, Out())
        with self.assertRaisesRegex(StepError, r"response\.found"):
            conformance.check({"code": "OK", "response": {"found": True}},
                              Out(response={"found": False}))

    def test_unknown_keys(self):
        with self.assertRaisesRegex(StepError, "unknown expect key 'cod'"):
            conformance.check({"code": "OK", "cod": "OK"}, Out())
        with self.assertRaisesRegex(StepError, "expect has no code"):
            conformance.check({}, Out())
        with self.assertRaisesRegex(StepError, "unknown step key 'requst'"):
            conformance.run_step(None, {"call": "CacheService/Get",
                                        "requst": {}, "expect": {}})
        with self.assertRaisesRegex(StepError, "at most one of"):
            conformance.run_step(None, {"call": "CacheService/Get",
                                        "request": {},
                                        "payload_base64": "",
                                        "expect": {"code": "OK"}})
        with self.assertRaisesRegex(StepError, "no typed call"):
            conformance.run_step(None, {"call": "CacheService/Nope",
                                        "request": {},
                                        "expect": {"code": "OK"}})
        with self.assertRaisesRegex(StepError, "deadline_ms"):
            conformance.run_step(None, {"call": "CacheService/Get",
                                        "deadline_ms": -1,
                                        "expect": {"code": "OK"}})


class PlaceholderTest(unittest.TestCase):
    def test_repeat(self):
        got = conformance.expand({"value": {"$repeat": ["QUFB", 3]},
                                  "keys": [{"$repeat": ["ab", 2]}]})
        self.assertEqual(got, {"value": "QUFBQUFBQUFB", "keys": ["abab"]})
        self.assertEqual(conformance.expand({"$repeat": ["x", 0]}), "")
        for bad in (["x"], ["x", -1], [1, 2], ["x", "2"], ["x", True]):
            with self.assertRaises(StepError):
                conformance.expand({"$repeat": bad})
        with self.assertRaisesRegex(StepError, "over"):
            conformance.expand({"$repeat": ["QUFB", 5 << 20]})

    def test_now_plus_s(self):
        before = int(time.time())
        got = conformance.expand({"expires_at": {"$now_plus_s": 600}})
        self.assertTrue(before + 600 <= got["expires_at"]
                        <= int(time.time()) + 600)
        got = conformance.expand({"$now_plus_s": -30})
        self.assertLessEqual(got, int(time.time()) - 30)
        with self.assertRaises(StepError):
            conformance.expand({"$now_plus_s": "10"})

    def test_other_objects_are_kept(self):
        req = {"params": {"user_id": "1"}, "n": 3}
        self.assertEqual(conformance.expand(req), req)


class MethodTableTest(unittest.TestCase):
    def test_table_matches_the_services(self):
        self.assertTrue(conformance.check_methods())


if __name__ == "__main__":
    unittest.main()
