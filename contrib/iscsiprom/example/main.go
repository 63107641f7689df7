// Command example serves the Prometheus metrics of an iSCSI session at
// /metrics while it runs random I/O against the LUN of the URL given:
//
//	go run ./example -listen 127.0.0.1:9100 -qd 8 iscsi://127.0.0.1/iqn.2026-11.example:disk/1
//	curl -s 127.0.0.1:9100/metrics | grep ^iscsi_
//
// It only reads unless -write is given: writing destroys the LUN's data.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/iscsi-go/iscsi/contrib/iscsiprom"
	"github.com/iscsi-go/iscsi/iovector"
	"github.com/iscsi-go/iscsi/session"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9100", "address to serve /metrics on")
	qd := flag.Int("qd", 4, "commands in flight")
	size := flag.Int("size", 4096, "bytes per command (a multiple of the block size)")
	write := flag.Bool("write", false, "write as well as read (destroys the LUN's data)")
	duration := flag.Duration("duration", 0, "stop after this long (0: at interrupt)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [flags] iscsi://host[:port]/target-iqn/lun\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *listen, *qd, *size, *write, *duration); err != nil {
		log.Fatal(err)
	}
}

func run(url, listen string, qd, size int, write bool, duration time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}

	m := iscsiprom.New(iscsiprom.Options{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(m, collectors.NewGoCollector())

	s, err := session.Dial(ctx, url, &session.Config{Hooks: []session.Hook{m}})
	if err != nil {
		return err
	}
	defer s.Close()
	m.Track(s)
	g, err := s.Geometry(ctx)
	if err != nil {
		return err
	}
	bs := int(g.BlockSize)
	if size < bs || size%bs != 0 {
		return fmt.Errorf("-size %d is not a multiple of the block size %d", size, bs)
	}
	blocks := uint32(size / bs)
	if g.Blocks < uint64(blocks) {
		return fmt.Errorf("the LUN has %d blocks, fewer than one command's %d", g.Blocks, blocks)
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	log.Printf("serving http://%s/metrics; I/O at queue depth %d to %s (%d blocks of %d bytes)", ln.Addr(), qd, s.Target(), g.Blocks, bs)

	var wg sync.WaitGroup
	errs := make(chan error, qd)
	for range qd {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := iovector.New(make([]byte, size))
			for ctx.Err() == nil {
				lba := rand.Uint64N(g.Blocks - uint64(blocks) + 1)
				var f session.Future
				if write && rand.IntN(2) == 0 {
					f = s.Write(ctx, lba, blocks, v)
				} else {
					f = s.Read(ctx, lba, blocks, v)
				}
				if _, err := f.Wait(); err != nil && ctx.Err() == nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	st := s.Stats()
	log.Printf("done: %d commands, %d bytes read, %d written, %d errors, %d window stalls",
		st.Commands, st.BytesRead, st.BytesWritten, st.CommandErrors, st.WindowStalls)
	if err := s.Logout(context.Background()); err != nil && !errors.Is(err, session.ErrSessionClosed) {
		return err
	}
	return nil
}
