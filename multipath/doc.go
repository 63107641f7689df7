// Package multipath is one logical unit reached over several paths: one
// iSCSI session per portal, each with its own ISID (its own I_T nexus),
// behind the block API a program already uses on a session.LogicalUnit
// (ReadAt/WriteAt and their Context forms, Read/Write/Execute futures,
// ReadFunc/WriteFunc/ExecuteFunc callbacks, NewReader/NewWriter streams,
// Call, Geometry, Sync), so that a program switches by changing one
// constructor:
//
//	d, err := multipath.Dial(ctx, []string{urlA, urlB}, nil)
//	...
//	n, err := d.WriteAt(buf, off)
//
// Discover builds the URL list from a portal's SendTargets answer. Dial
// succeeds when one path logs in; the others join when the checker reaches
// them. A path joins only when its LUN is the same device as the first
// path's: the same unit serial number (VPD page 0x80) and the same
// logical-unit designators (VPD page 0x83); otherwise Dial fails with a
// *DifferentDeviceError naming both paths.
//
// No goroutine waits per command: a command's attempts are chained from
// the sessions' callbacks, so the Device's callbacks follow session.Done's
// rules.
//
// Each command goes to one path chosen by the Selector (least queue depth by
// default, round robin, failover only, or service time: the fewest bytes
// in flight for the path's relative throughput) from an immutable
// snapshot of the ready paths, swapped atomically whenever a path changes
// state, as gRPC-Go's balancer picker is. When a path's connection is
// lost, the commands on it are taken back and sent on another ready path at once,
// under the session's replay rules (session.SafeToRepeat); a write that had
// been sent is sent again only once the failed path's copy is fenced, so
// that it can never land after a later write: the Device logs in with the
// failed path's ISID through a ready portal of the same portal group, which
// makes the target end the failed session's tasks before it answers
// (milliseconds), or else waits for the failed path's own reconnect (see
// docs/MULTIPATH.md). The failed path recovers on its own and carries I/O
// again when it is back; a checker sends TEST UNIT READY to idle paths and
// dials again the paths whose session ended. With Config.PathTimeout, a
// command a path does not answer in time moves too, and a transport-class
// CHECK CONDITION sends a command safe to repeat again.
//
// With a target that reports asymmetric access (ALUA: TPGS and REPORT
// TARGET PORT GROUPS), commands go to paths whose target port group is
// active/optimized, to active/non-optimized ones only when no optimized
// path is ready, never to standby, unavailable or transitioning ones;
// among paths of the same state, those of a group with the PREF bit come
// first; a command refused for its port's state or met by ASYMMETRIC
// ACCESS STATE CHANGED is sent again elsewhere once the states are read
// again. With no
// active path for Config.ALUATimeout a command fails with a
// *NoActivePathError. SetTargetPortGroups asks a target with explicit
// ALUA for a transition.
//
// Persistent reservation keys are registered on every path (each is its
// own I_T nexus): PRRegister, PRRegisterAndIgnore.
package multipath
