package nbd_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"

	"github.com/iscsi-go/iscsi/iscsitest"
	"github.com/iscsi-go/iscsi/nbd"
	"github.com/iscsi-go/iscsi/session"
)

// Serving a LUN over NBD: the server runs on a listener, any NBD client
// (qemu-img, nbdcopy, the kernel's nbd-client) connects to it and reads
// and writes the LUN. Here the client is the few lines of the protocol
// below (newstyle handshake, NBD_OPT_GO, WRITE, FLUSH, READ, DISC), so
// that the example runs on its own; the target is the in-process one of
// package iscsitest.
func Example() {
	tgt := iscsitest.NewServer(iscsitest.WithLUN(1<<20, 512))
	defer tgt.Close()
	ctx := context.Background()
	s, err := session.Dial(ctx, tgt.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	srv := &nbd.Server{Exports: []nbd.Export{{Name: "disk", Device: s.DefaultUnit()}}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	// The client's side: nbd://127.0.0.1:port/disk.
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	size, err := negotiate(nc, "disk")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("export of %d bytes\n", size)
	block := make([]byte, 512)
	copy(block, "hello, NBD")
	if _, err := request(nc, cmdWrite, 4096, block, 0); err != nil {
		log.Fatal(err)
	}
	if _, err := request(nc, cmdFlush, 0, nil, 0); err != nil { // SYNCHRONIZE CACHE
		log.Fatal(err)
	}
	got, err := request(nc, cmdRead, 4096, nil, 512)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("read back %q\n", bytes.TrimRight(got, "\x00"))
	// NBD_CMD_DISC has no reply: the server closes the connection.
	if _, err := request(nc, cmdDisc, 0, nil, -1); err != nil {
		log.Fatal(err)
	}
	if _, err := nc.Read(make([]byte, 1)); err != io.EOF {
		log.Fatalf("after DISC: %v", err)
	}
	nc.Close()

	// The session saw the write: the LUN holds it.
	lun := make([]byte, 10)
	if _, err := s.DefaultUnit().ReadAtContext(ctx, lun, 4096); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("the LUN holds %q\n", lun)

	// Shutdown answers the requests in flight, then closes; Serve returns.
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-served)
	// Output:
	// export of 1048576 bytes
	// read back "hello, NBD"
	// the LUN holds "hello, NBD"
	// nbd: server closed
}

// The numbers of the NBD protocol (NetworkBlockDevice/nbd, doc/proto.md)
// that this client uses.
const (
	magicNBD      = 0x4e42444d41474943 // "NBDMAGIC"
	magicOpt      = 0x49484156454f5054 // "IHAVEOPT"
	magicOptReply = 0x3e889045565a9
	magicRequest  = 0x25609513
	magicSimple   = 0x67446698

	flagFixedNewstyle = 1 << 0
	flagNoZeroes      = 1 << 1

	optGo      = 7
	repAck     = 1
	repInfo    = 3
	infoExport = 0

	cmdRead  = 0
	cmdWrite = 1
	cmdDisc  = 2
	cmdFlush = 3
)

// negotiate does the fixed newstyle handshake and enters transmission
// on export name with NBD_OPT_GO; it returns the export's size.
func negotiate(nc net.Conn, name string) (size uint64, err error) {
	greeting := make([]byte, 18) // NBDMAGIC, IHAVEOPT, handshake flags
	if _, err := io.ReadFull(nc, greeting); err != nil {
		return 0, err
	}
	if binary.BigEndian.Uint64(greeting) != magicNBD || binary.BigEndian.Uint64(greeting[8:]) != magicOpt {
		return 0, errors.New("not an NBD newstyle server")
	}
	// Client flags, then the option: IHAVEOPT, NBD_OPT_GO, its length, and
	// its data (the name, and no NBD_INFO requests).
	b := binary.BigEndian.AppendUint32(nil, flagFixedNewstyle|flagNoZeroes)
	b = binary.BigEndian.AppendUint64(b, magicOpt)
	b = binary.BigEndian.AppendUint32(b, optGo)
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(name)+2))
	b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint16(b, 0)
	if _, err := nc.Write(b); err != nil {
		return 0, err
	}
	// Replies (magic, option, type, length, data) until the ACK; one of
	// them is NBD_INFO_EXPORT: the size and the transmission flags.
	for {
		h := make([]byte, 20)
		if _, err := io.ReadFull(nc, h); err != nil {
			return 0, err
		}
		if binary.BigEndian.Uint64(h) != magicOptReply {
			return 0, errors.New("bad option reply")
		}
		data := make([]byte, binary.BigEndian.Uint32(h[16:]))
		if _, err := io.ReadFull(nc, data); err != nil {
			return 0, err
		}
		switch typ := binary.BigEndian.Uint32(h[12:]); {
		case typ == repAck:
			return size, nil
		case typ == repInfo && binary.BigEndian.Uint16(data) == infoExport:
			size = binary.BigEndian.Uint64(data[2:])
		case typ&(1<<31) != 0:
			return 0, fmt.Errorf("NBD_OPT_GO refused: %s", data)
		}
	}
}

// request sends one request (magic, flags, type, handle, offset, length,
// then the data of a WRITE) and reads its simple reply (magic, error,
// handle, then readLen bytes of data if it succeeded). readLen < 0: no
// reply is expected.
func request(nc net.Conn, typ uint16, off uint64, data []byte, readLen int) ([]byte, error) {
	length := uint32(len(data))
	if readLen > 0 {
		length = uint32(readLen)
	}
	const handle = 1 // one request at a time; a real client has many in flight
	b := binary.BigEndian.AppendUint32(nil, magicRequest)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint64(b, handle)
	b = binary.BigEndian.AppendUint64(b, off)
	b = binary.BigEndian.AppendUint32(b, length)
	if _, err := nc.Write(append(b, data...)); err != nil || readLen < 0 {
		return nil, err
	}
	h := make([]byte, 16)
	if _, err := io.ReadFull(nc, h); err != nil {
		return nil, err
	}
	if binary.BigEndian.Uint32(h) != magicSimple || binary.BigEndian.Uint64(h[8:]) != handle {
		return nil, errors.New("bad reply")
	}
	if errno := binary.BigEndian.Uint32(h[4:]); errno != 0 {
		return nil, fmt.Errorf("NBD error %d", errno)
	}
	reply := make([]byte, max(readLen, 0))
	_, err := io.ReadFull(nc, reply)
	return reply, err
}
