package blocksock

import "testing"

func TestMarkInProcess(t *testing.T) {
	const a = "127.0.0.1:3260"
	if InProcess(a) {
		t.Fatalf("%s in process before any mark", a)
	}
	un1 := MarkInProcess(a)
	un2 := MarkInProcess(a)
	if !InProcess(a) {
		t.Fatalf("%s not in process after its mark", a)
	}
	if InProcess("127.0.0.1:3261") || InProcess("[::1]:3260") {
		t.Fatal("another address is in process")
	}
	un1()
	un1() // a second call changes nothing
	if !InProcess(a) {
		t.Fatalf("%s not in process while a second mark stands", a)
	}
	un2()
	if InProcess(a) {
		t.Fatalf("%s in process after both marks ended", a)
	}

	un := MarkInProcess("[0:0::1]:3260")
	defer un()
	if !InProcess("[::1]:3260") {
		t.Fatal("[::1]:3260 is not the address marked as [0:0::1]:3260")
	}
}
