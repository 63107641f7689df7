package conformance_test

import (
	"context"
	"fmt"
	"time"

	"github.com/iscsi-go/iscsi/conformance"
	"github.com/iscsi-go/iscsi/iscsitest"
)

// Run a selection of the suite against a target and read the verdicts
// (in the catalogue's order, as libiscsi runs them).
// Here the target is the in-process iscsitest; a target author points the
// URL at theirs (or calls TestTarget from a go test).
func ExampleRun() {
	srv := iscsitest.NewServer(iscsitest.WithLUN(64<<20, 512))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := conformance.Run(ctx, srv.URL(), &conformance.Options{Tests: "ALL.TestUnitReady,ALL.ReadCapacity10"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rep.Results {
		fmt.Println(r.Test.FullName(), r.Verdict)
	}
	// Output:
	// ALL.ReadCapacity10.Simple passed
	// ALL.TestUnitReady.Simple passed
}
