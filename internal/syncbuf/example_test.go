package syncbuf_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/iscsi-go/iscsi/internal/syncbuf"
)

// A logger shared by goroutines writes into one Buffer, read at the end.
func Example() {
	var out syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); log.Info("done", "worker", i) }()
	}
	wg.Wait()
	fmt.Println(strings.Count(out.String(), "msg=done"), "lines")
	// Output: 3 lines
}
