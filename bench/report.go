package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// Table writes results as a markdown table.
func Table(w io.Writer, rs []Result) {
	fmt.Fprintln(w, "| | measurement | Weir | reference | goal | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.ID, r.Name, cell(r.Weir), cell(r.Ref), cell(r.Goal), cell(r.Met))
	}
}

// Spread writes, for every figure of a row that appears more than once
// (the same measurement run again, -runs), its median and range over the
// runs: the spread a single run's figure hides.
func Spread(w io.Writer, rs []Result) {
	type key struct{ id, value string }
	vals := map[key][]float64{}
	var order []key
	for _, r := range rs {
		names := make([]string, 0, len(r.Values))
		for n := range r.Values {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			k := key{r.ID, n}
			if _, ok := vals[k]; !ok {
				order = append(order, k)
			}
			vals[k] = append(vals[k], r.Values[n])
		}
	}
	header := false
	for _, k := range order {
		vs := vals[k]
		if len(vs) < 2 {
			continue
		}
		if !header {
			fmt.Fprintln(w, "\n| | figure | runs | median | min | max |")
			fmt.Fprintln(w, "|---|---|---|---|---|---|")
			header = true
		}
		sort.Float64s(vs)
		med := vs[len(vs)/2]
		if len(vs)%2 == 0 {
			med = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
		}
		fmt.Fprintf(w, "| %s | %s | %d | %.4g | %.4g | %.4g |\n", k.id, k.value, len(vs), med, vs[0], vs[len(vs)-1])
	}
}

func cell(s string) string {
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}

// LoadAvg is the 1-minute load average.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	_, _ = fmt.Sscan(string(b), &l)
	return l
}

// Busy is the fraction of all CPUs' time spent busy (not idle or
// waiting for I/O) over d, from /proc/stat. Taken between measurements,
// when the benchmark's own processes are stopped, it is the load of the
// other work on the machine (unlike the load average, which still counts
// the previous measurement for minutes).
func Busy(d time.Duration) float64 {
	read := func() (busy, total uint64) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0
		}
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		for i, v := range f[1:] {
			var n uint64
			fmt.Sscan(v, &n)
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		return busy, total
	}
	b0, t0 := read()
	time.Sleep(d)
	b1, t1 := read()
	if t1 <= t0 {
		return 0
	}
	return float64(b1-b0) / float64(t1-t0)
}

// WaitQuiet waits up to max until other work keeps the CPUs less than
// limit busy (0.3 = 30%), and returns the last figure.
func WaitQuiet(limit float64, max time.Duration, logf func(string, ...any)) float64 {
	deadline := time.Now().Add(max)
	for {
		busy := Busy(3 * time.Second)
		if busy < limit || time.Now().After(deadline) {
			return busy
		}
		if logf != nil {
			logf("CPUs %.0f%% busy with other work (limit %.0f%%), waiting", 100*busy, 100*limit)
		}
		time.Sleep(7 * time.Second)
	}
}

// Machine describes where a run took place.
type Machine struct {
	CPUs     int
	CPU      string
	Kernel   string
	Go       string
	Disk     string
	FsyncP50 time.Duration // 8 KB write + fdatasync in the run directory
	FsyncP99 time.Duration
	Load     string // /proc/loadavg at the start
	Postgres string
	Etcd     string
}

// Describe gathers machine facts and times fdatasync in dir.
func Describe(e *Env) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.Load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	if out, err := exec.Command("df", "-hT", e.Work).Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if f := strings.Fields(lines[len(lines)-1]); len(f) >= 3 {
			m.Disk = fmt.Sprintf("%s (%s, %s)", f[0], f[1], f[2])
		}
	}
	m.FsyncP50, m.FsyncP99 = fsyncLatency(e.Work, 300)
	if d, err := FindPGBin(); err == nil {
		if out, err := exec.Command(filepath.Join(d, "postgres"), "--version").Output(); err == nil {
			m.Postgres = strings.TrimSpace(string(out))
		}
	}
	if p, err := FindEtcd(); err == nil {
		if out, err := exec.Command(p, "--version").Output(); err == nil {
			m.Etcd = strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
		}
	}
	return m
}

// fsyncLatency appends 8 KB and fdatasyncs n times.
func fsyncLatency(dir string, n int) (p50, p99 time.Duration) {
	f, err := os.CreateTemp(dir, "fsync-")
	if err != nil {
		return 0, 0
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 8192)
	var ds []time.Duration
	for range n {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			return 0, 0
		}
		if err := fdatasync(f); err != nil {
			return 0, 0
		}
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	return Percentile(ds, 50), Percentile(ds, 99)
}

func (m Machine) String() string {
	return fmt.Sprintf("%d CPUs (%s), Linux %s, %s, disk %s, 8 KB write+fdatasync p50 %s p99 %s, load average at start %s; %s; %s",
		m.CPUs, m.CPU, m.Kernel, m.Go, m.Disk, fmtMs(m.FsyncP50), fmtMs(m.FsyncP99), m.Load, m.Postgres, m.Etcd)
}
