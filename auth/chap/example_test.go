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
