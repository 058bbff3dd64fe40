// SPDX-License-Identifier: MIT
// nng's SP wire format for req0 over TCP and IPC: the header exchange and frames.
//
// What nng 1.5 puts on a stream (src/sp/transport/tcp/tcp.c, ipc/ipc.c,
// src/sp/protocol/reqrep0/req.c):
//
//   connect:  each side sends 8 bytes   00 'S' 'P' 00 | proto (u16 BE) | 00 00
//             req0 is 0x0030, rep0 0x0031; each side checks the other's.
//   message:  TCP  | length (u64 BE) | body ...
//             IPC  | 0x01 | length (u64 BE) | body ...
//   req0 body:       | request id (u32 BE, high bit set) | Request ...
//   rep0 reply body: | the same request id               | Response ...
//
// rep0 moves 32-bit words from the front of a request into its backtrace
// until one has the high bit set, and sends the backtrace back in front of
// the reply: with no devices in between, that is exactly our request id,
// which is how replies to many requests in flight on one connection find
// their caller, in whatever order the broker's contexts answer.

export const PROTO_REQ0 = 0x30;
export const PROTO_REP0 = 0x31;

/** The handshake header, the same length on every transport. */
export const SP_HEADER_SIZE = 8;

/** The high bit nng sets on the last word of a backtrace. */
export const REQUEST_ID_END = 0x80000000;

/** spHeader returns the 8 bytes a peer of protocol proto sends first. */
export function spHeader(proto: number): Buffer {
  const b = Buffer.alloc(SP_HEADER_SIZE);
  b[1] = 0x53; // 'S'
  b[2] = 0x50; // 'P'
  b.writeUInt16BE(proto, 4);
  return b;
}

/**
 * checkSpHeader returns why the peer's header h is not that of protocol
 * want, or null if it is.
 */
export function checkSpHeader(h: Buffer, want: number): string | null {
  if (h[0] !== 0 || h[1] !== 0x53 || h[2] !== 0x50 || h[3] !== 0 ||
      h[6] !== 0 || h[7] !== 0) {
    return `not an SP peer (header ${h.toString("hex")})`;
  }
  const proto = h.readUInt16BE(4);
  if (proto !== want) {
    return `peer speaks SP protocol 0x${proto.toString(16)}, ` +
      `not 0x${want.toString(16)}`;
  }
  return null;
}

/** frameHeaderSize is the length prefix's size on a transport. */
export function frameHeaderSize(ipc: boolean): number {
  return ipc ? 9 : 8;
}

/**
 * encodeRequest builds one req0 frame: the transport's length prefix, the
 * request id and the body, in one buffer so that it goes out in one write.
 */
export function encodeRequest(
  ipc: boolean,
  id: number,
  body: Uint8Array,
): Buffer {
  const hl = frameHeaderSize(ipc);
  const frame = Buffer.allocUnsafe(hl + 4 + body.length);
  let o = 0;
  if (ipc) {
    frame[o++] = 0x01;
  }
  frame.writeBigUInt64BE(BigInt(4 + body.length), o);
  frame.writeUInt32BE(id >>> 0, hl);
  frame.set(body, hl + 4);
  return frame;
}

/**
 * FrameReader cuts a byte stream into the peer's SP header, which must be
 * that of protocol peerProto, and then whole frames. It never holds more
 * than one frame's bytes beyond what arrived, and refuses a frame over
 * maxFrame before reading it.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private gotHeader = false;
  private frameLen = -1;

  constructor(
    private readonly ipc: boolean,
    private readonly peerProto: number,
    private readonly maxFrame: number,
  ) {}

  /**
   * push adds bytes and returns what they completed: whether the peer's
   * header arrived (first, once) and any number of frame bodies. Throws
   * FrameError on a bad header or a malformed stream; the connection is
   * then unusable.
   */
  push(chunk: Buffer): { header: boolean; frames: Buffer[] } {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out = { header: false, frames: [] as Buffer[] };
    if (!this.gotHeader) {
      if (this.buffered < SP_HEADER_SIZE) {
        return out;
      }
      const bad = checkSpHeader(this.take(SP_HEADER_SIZE), this.peerProto);
      if (bad !== null) {
        throw new FrameError(bad);
      }
      this.gotHeader = true;
      out.header = true;
    }
    const hl = frameHeaderSize(this.ipc);
    for (;;) {
      if (this.frameLen < 0) {
        if (this.buffered < hl) {
          break;
        }
        const h = this.take(hl);
        if (this.ipc && h[0] !== 0x01) {
          throw new FrameError(`IPC message type ${h[0]}, not 1`);
        }
        const len = h.readBigUInt64BE(this.ipc ? 1 : 0);
        if (len > BigInt(this.maxFrame)) {
          throw new FrameError(
            `a reply of ${len} bytes is over the limit of ` +
              `${this.maxFrame} bytes`,
          );
        }
        this.frameLen = Number(len);
      }
      if (this.buffered < this.frameLen) {
        break;
      }
      out.frames.push(this.take(this.frameLen));
      this.frameLen = -1;
    }
    return out;
  }

  private take(n: number): Buffer {
    if (n === 0) {
      return Buffer.alloc(0);
    }
    const first = this.chunks[0] as Buffer;
    this.buffered -= n;
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    while (o < n) {
      const c = this.chunks[0] as Buffer;
      const k = Math.min(c.length, n - o);
      c.copy(out, o, 0, k);
      o += k;
      if (k === c.length) {
        this.chunks.shift();
      } else {
        this.chunks[0] = c.subarray(k);
      }
    }
    return out;
  }
}

/** FrameError: the peer broke the SP stream format. */
export class FrameError extends Error {}
