// Package chap implements CHAP authentication for iSCSI login (RFC 7143
// §12.1.3, RFC 1994), one-way and mutual, for both ends of the exchange.
//
// The package is pure logic over key=value pairs (keys.Pair, with the
// keys.KeyCHAP* names and keys.DecodeBinary for values): the session package feeds
// it the pairs of the target's Login Responses and sends the pairs it
// returns. Nothing here touches a connection.
//
// The initiator side is a small state machine:
//
//	in, err := chap.NewInitiator(cfg)
//	send := in.Start()                  // CHAP_A=5
//	send, err = in.Respond(received)    // CHAP_A, CHAP_I, CHAP_C -> CHAP_N, CHAP_R [, CHAP_I, CHAP_C]
//	if in.Mutual() {
//		err = in.Verify(received)   // CHAP_N, CHAP_R of the target
//	}
//
// The target side (Responder) lets scripted test targets play a CHAP target,
// including knobs to misbehave (see Misbehavior).
//
// The response to a challenge is H(identifier ‖ secret ‖ challenge), where
// identifier is one octet and H is the negotiated algorithm: MD5 (5), SHA-1
// (6), SHA-256 (7) or SHA3-256 (8), numbers assigned by IANA.
//
// Whether the target accepted our credentials is not decided here: a target
// that refuses them answers with login status 0x0201, which the session
// sees. This package decides whether the target's messages are well formed
// and, for mutual CHAP, whether the target proved that it knows its secret.
//
// Secrets are held as auth.Secret and never appear in errors or in the
// formatted form of any value of this package.
package chap
