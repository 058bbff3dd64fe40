// SPDX-License-Identifier: MIT
// Broker URLs (ipc:///path, tcp:// and tls+tcp://host:port) to Node socket
// addresses.
import type { NetConnectOpts } from "node:net";

import { Code, statusError } from "./status.js";

/** Where a broker listens, in the form net.connect takes. */
export interface Endpoint {
  /** The URL as given, for messages. */
  readonly url: string;
  /** IPC frames carry a message-type byte that TCP frames do not. */
  readonly ipc: boolean;
  /** tls+tcp://: TLS around the same frames as tcp:// (Client adds the
   * certificates). */
  readonly tls: boolean;
  readonly connect: NetConnectOpts & { host?: string; port?: number };
}

const TCP =
  /^(tcp|tls\+tcp):\/\/(\[[0-9A-Fa-f:.]+\]|[^:/[\]]+):([0-9]{1,5})$/;

/**
 * parseUrl reads a broker URL as nng spells it: ipc:// followed by a socket
 * path (ipc:///run/x.sock is absolute), or tcp://HOST:PORT or
 * tls+tcp://HOST:PORT with an IPv6 host in brackets. Anything else throws
 * InvalidArgumentError.
 */
export function parseUrl(url: string): Endpoint {
  if (url.startsWith("ipc://")) {
    const path = url.slice("ipc://".length);
    if (path === "" || path.includes("\0")) {
      throw statusError(Code.INVALID_ARGUMENT, `bad ipc URL "${url}"`);
    }
    return { url, ipc: true, tls: false, connect: { path } };
  }
  const m = TCP.exec(url);
  if (m !== null) {
    const port = Number(m[3]);
    let host = m[2] as string;
    if (port < 1 || port > 65535) {
      throw statusError(Code.INVALID_ARGUMENT, `bad port in "${url}"`);
    }
    if (host.startsWith("[")) {
      host = host.slice(1, -1);
    }
    return { url, ipc: false, tls: m[1] === "tls+tcp", connect: { host, port } };
  }
  throw statusError(
    Code.INVALID_ARGUMENT,
    `bad broker URL "${url}" (want ipc:///path, tcp://host:port or ` +
      "tls+tcp://host:port)",
  );
}
