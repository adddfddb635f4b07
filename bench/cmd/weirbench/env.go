package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/weir-nifi/weir/bench"
)

// startEnv is what every weirbench command does first: a run directory,
// progress lines on stderr stamped from start, the weir binary built (or
// weir, when given), and a context that ends on SIGINT or SIGTERM. The
// caller defers done.
func startEnv(weir string, keep bool) (env *bench.Env, ctx context.Context, start time.Time, done func(), err error) {
	env, err = bench.NewEnv()
	if err != nil {
		return nil, nil, time.Time{}, nil, err
	}
	env.Keep = keep
	start = time.Now()
	env.Logf = func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	env.WeirBin = weir
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	done = func() { stop(); env.Close() }
	if err := env.BuildWeir(); err != nil {
		done()
		return nil, nil, time.Time{}, nil, err
	}
	return env, ctx, start, done, nil
}

// writeJSON writes v, indented, to path (nothing when path is empty).
func writeJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
