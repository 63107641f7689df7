// Package keys is the iSCSI login and text key=value layer of RFC 7143 §6
// and §13: the codec for text data segments, the reassembly of text split
// across PDUs with the Continue bit, the negotiation rule of every standard
// key, and a Negotiator that drives the operational stage of a login from
// the initiator's side.
//
// The package knows nothing about PDU headers; package pdu carries the
// segments this package encodes and decodes. It is pure: no I/O, no clocks.
//
// Layers, bottom up:
//
//   - Parse, AppendParse and AppendPairs encode and decode "key=value\x00"
//     sequences. The codec checks syntax only; it keeps repeated keys
//     (SendTargets answers repeat TargetName and TargetAddress).
//   - Reassembler joins segments sent with the C bit; Segments and Split cut
//     long text to a peer's MaxRecvDataSegmentLength.
//   - ParseNumber, ParseBool, ParseList and DecodeBinary read values; EncodeBinary writes binary ones.
//   - Rule (see Lookup) holds each key's type, range, default and result
//     function, with Rule.Result for answers to our offers and
//     Rule.Respond for proposals made by the peer.
//   - Negotiator offers our values, folds in the target's answers and
//     declarations over as many exchanges as the target needs, answers the
//     target's own proposals, and produces Params.
package keys
