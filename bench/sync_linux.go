package bench

import (
	"os"
	"syscall"
)

func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// quietDisk writes out what earlier phases left dirty before a measured
// window starts, so that each window pays for its own writes only and both
// sides of a comparison alike. Without it, writes that nothing fsyncs
// (Weir --unsafe-no-sync and JetStream's default in the site-to-site
// pairs, the files of a previous round elsewhere) pile up in the page
// cache until the kernel's background threshold (10 % of memory, about
// 2 GB here) and are then written back in one burst that stalls every
// writer on the machine for up to two seconds: a site-to-site pull window
// took the stall of the pushes before it (pull confirms of 0.5–1.2 s, p99
// of 0.9–2 s), and event-hook runs slowed one after another.
func quietDisk() { syscall.Sync() }
