package multipath

import (
	"math"
	"testing"
)

func TestServiceTimePick(t *testing.T) {
	type load struct {
		bytes, inflight, weight int64
	}
	for _, tc := range []struct {
		name  string
		paths []load
		size  int64
		want  int
	}{
		{"idle: the first", []load{{0, 0, 1}, {0, 0, 1}}, 4096, 0},
		{"fewer bytes", []load{{8192, 1, 1}, {4096, 1, 1}}, 4096, 1},
		{"bytes before commands", []load{{8192, 1, 1}, {4096, 3, 1}}, 4096, 1},
		{"tie on bytes: fewer in flight", []load{{4096, 2, 1}, {4096, 1, 1}}, 0, 1},
		{"tie on both: the first", []load{{4096, 1, 1}, {4096, 1, 1}, {0, 0, 1}}, 0, 2},
		// (8192+4096)/3 = 4096 < (4096+4096)/1.
		{"weight", []load{{4096, 1, 1}, {8192, 2, 3}}, 4096, 1},
		// (0+4096)/1 = 4096 = (8192+4096)/3: tie, fewer in flight.
		{"weighted tie", []load{{0, 0, 1}, {8192, 2, 3}}, 4096, 0},
		{"no overflow", []load{{math.MaxInt64 - 1, 1, 100}, {math.MaxInt64 / 2, 1, 1}}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ps []*path
			for i, l := range tc.paths {
				p := &path{index: i, weight: l.weight}
				p.bytes.Store(l.bytes)
				p.inflight.Store(l.inflight)
				ps = append(ps, p)
			}
			pk := buildPicker(ServiceTime, ps)
			if got := pk.pick(tc.size); got.index != tc.want {
				t.Fatalf("picked path %d, want %d", got.index, tc.want)
			}
		})
	}
}
