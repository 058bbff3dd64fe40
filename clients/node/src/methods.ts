// SPDX-License-Identifier: MIT
// The method table: every RPC of the five services, from the generated descriptors.
import type { DescMethod } from "@bufbuild/protobuf";

import { AdminService } from "./gen/cachebroker/v1/admin_pb.js";
import { AuthService } from "./gen/cachebroker/v1/auth_pb.js";
import { CacheService } from "./gen/cachebroker/v1/cache_pb.js";
import { EventService } from "./gen/cachebroker/v1/event_pb.js";
import { WarmService } from "./gen/cachebroker/v1/warm_pb.js";

/**
 * MethodTable maps each client method name (the camelCase RPC name, e.g.
 * "getMany") to its descriptor, which knows the request and response
 * schemas. The .proto files are the one definition: a method added there
 * appears on the Client after the next build.
 */
export type MethodTable = typeof CacheService.method &
  typeof WarmService.method &
  typeof EventService.method &
  typeof AuthService.method &
  typeof AdminService.method;

export type MethodName = keyof MethodTable;

export const SERVICES = [
  CacheService,
  WarmService,
  EventService,
  AuthService,
  AdminService,
] as const;

/** The full name a method travels under: "/cachebroker.v1.CacheService/Get". */
export function fullMethodName(m: DescMethod): string {
  return `/${m.parent.typeName}/${m.name}`;
}

function buildTable(): MethodTable {
  const table: Record<string, DescMethod> = {};
  for (const svc of SERVICES) {
    for (const m of svc.methods) {
      // Client methods are named without their service: two services
      // with one method name would make one of them unreachable.
      if (table[m.localName] !== undefined) {
        throw new Error(
          `method name ${m.localName} in both ` +
            `${table[m.localName]?.parent.name} and ${svc.name}`,
        );
      }
      table[m.localName] = m;
    }
  }
  return table as unknown as MethodTable;
}

export const METHODS: MethodTable = buildTable();

/**
 * findMethod looks a method up by "Service/Method" ("CacheService/Get"),
 * as the conformance vectors and logs name them, or by its full name.
 */
export function findMethod(name: string): DescMethod | undefined {
  const full = name.startsWith("/") ? name : `/cachebroker.v1.${name}`;
  for (const m of Object.values(METHODS) as DescMethod[]) {
    if (fullMethodName(m) === full) {
      return m;
    }
  }
  return undefined;
}
