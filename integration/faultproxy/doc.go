// Package faultproxy is a loopback TCP proxy that injects network faults
// between an iSCSI initiator and a target, for recovery tests.
//
// A Proxy listens on 127.0.0.1:0 (or [::1]:0 for an IPv6 target) and
// forwards every connection it accepts to the target address. Each
// connection ([Conn]) has two directions ([Pipe]): Up (client to target) and
// Down (target to client). Faults are armed on a Pipe or a Conn, before
// traffic (from the [Proxy.OnAccept] hook, which runs before any byte is
// forwarded) or while it flows:
//
//   - CutAt / Cut: forward up to an offset, then close both sockets (FIN).
//   - ResetAt / Reset: the same with SO_LINGER 0 (RST to both peers).
//   - FlipBit: flip one bit of the byte at an offset (a digest error).
//   - StallAt / Stall / Release: stop forwarding, sockets open, for a
//     duration or until released.
//   - StopReading / ResumeReading: stop reading from the source socket
//     (a peer that does not read; its writes back up).
//   - Delay, MaxChunk: slow delivery, small segments.
//
// Offsets count the bytes of one direction of one connection from 0. The
// proxy counts connections accepted and bytes forwarded each way. Close stops
// everything and returns when every goroutine of the proxy has exited; no
// fault can make it wait longer (a stall, a peer that never reads, a target
// that never answers a dial).
package faultproxy
