package keys_test

import (
	"fmt"

	"github.com/iscsi-go/iscsi/pdu/keys"
)

// A login's operational stage from the initiator's side, against a target
// that answers like tgtd.
func ExampleNegotiator() {
	n, err := keys.NewNegotiator(keys.Offer{HeaderDigest: []string{keys.CRC32C, keys.None}})
	if err != nil {
		panic(err)
	}
	request := keys.AppendPairs(nil, n.Pairs()...)
	_ = request // sent as the Login Request data segment, split to the target's limit

	response := []byte("HeaderDigest=CRC32C\x00DataDigest=None\x00InitialR2T=Yes\x00ImmediateData=Yes\x00" +
		"MaxRecvDataSegmentLength=8192\x00MaxBurstLength=262144\x00FirstBurstLength=65536\x00" +
		"TaskReporting=RFC3720\x00")
	pairs, err := keys.Parse(response)
	if err != nil {
		panic(err)
	}
	reply, err := n.Process(pairs)
	if err != nil {
		panic(err)
	}
	fmt.Println("reply:", reply)

	params, err := n.Finish() // once the target sets the Transit bit
	if err != nil {
		panic(err)
	}
	fmt.Println("header digest:", params.HeaderDigest, "data digest:", params.DataDigest)
	fmt.Println("we send segments up to", params.TargetMaxRecvDataSegmentLength)
	fmt.Println("first burst:", params.FirstBurstLength, "unanswered:", n.Unanswered())
	// Output:
	// reply: [TaskReporting=RFC3720]
	// header digest: true data digest: false
	// we send segments up to 8192
	// first burst: 65536 unanswered: [MaxConnections MaxOutstandingR2T DefaultTime2Wait DefaultTime2Retain ErrorRecoveryLevel]
}
