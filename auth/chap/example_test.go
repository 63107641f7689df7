package chap_test

import (
	"fmt"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/auth/chap"
)

// A mutual CHAP exchange, with a Responder playing the target.
func Example() {
	in, err := chap.NewInitiator(chap.Config{
		Username:       "iqn.2024-01.example:host",
		Secret:         auth.NewSecret("initiator-secret-12"),
		TargetUsername: "iqn.2024-01.example:disk",
		TargetSecret:   auth.NewSecret("target-secret-3456"),
	})
	if err != nil {
		panic(err)
	}
	target, _ := chap.NewResponder(chap.TargetConfig{
		Username:       "iqn.2024-01.example:host",
		Secret:         auth.NewSecret("initiator-secret-12"),
		TargetUsername: "iqn.2024-01.example:disk",
		TargetSecret:   auth.NewSecret("target-secret-3456"),
	})

	offer := in.Start() // CHAP_A=5
	challenge, _ := target.Challenge(offer)
	answer, err := in.Respond(challenge) // CHAP_N, CHAP_R, CHAP_I, CHAP_C
	if err != nil {
		panic(err)
	}
	proof, _ := target.Verify(answer)
	err = in.Verify(proof)
	fmt.Println(offer, in.Algorithm(), err, in.Done())
	fmt.Println(in)
	// Output:
	// [CHAP_A=5] MD5 <nil> true
	// chap.Initiator{Username:"iqn.2024-01.example:host" Mutual:true Algorithm:MD5 State:done}
}

// One-way CHAP with SHA-256 preferred: the target picks the first
// algorithm of the offer it speaks, here MD5 (as tgtd does when SHA-256 is
// not configured), and only the initiator proves itself.
func ExampleNewInitiator() {
	in, err := chap.NewInitiator(chap.Config{
		Username:   "iqn.2024-01.example:host",
		Secret:     auth.NewSecret("initiator-secret-12"),
		Algorithms: []chap.Algorithm{chap.SHA256, chap.MD5},
	})
	if err != nil {
		panic(err)
	}
	target, _ := chap.NewResponder(chap.TargetConfig{
		Username:   "iqn.2024-01.example:host",
		Secret:     auth.NewSecret("initiator-secret-12"),
		Algorithms: []chap.Algorithm{chap.MD5},
	})
	offer := in.Start()
	challenge, _ := target.Challenge(offer)
	answer, err := in.Respond(challenge)
	if err != nil {
		panic(err)
	}
	_, err = target.Verify(answer)
	fmt.Println(offer, in.Algorithm(), in.Mutual(), err, in.Done())
	// Output: [CHAP_A=7,5] MD5 false <nil> true
}

// The names libiscsi's ?auth= argument takes, and IANA numbers.
func ExampleParseAlgorithm() {
	for _, s := range []string{"md5", "SHA1", "sha-256", "sha3-256", "7", "sha512"} {
		a, err := chap.ParseAlgorithm(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(s, int(a), a)
	}
	// Output:
	// md5 5 MD5
	// SHA1 6 SHA-1
	// sha-256 7 SHA-256
	// sha3-256 8 SHA3-256
	// 7 7 SHA-256
	// chap: unknown algorithm "sha512" (want md5, sha1, sha-256 or sha3-256): invalid CHAP configuration
}
