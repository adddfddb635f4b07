package cluster

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestHCLogLevels(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h := newHCLogger(l)
	h.Info("entering follower state", "term", 3)
	h.Warn("heartbeat timeout reached, starting election", "last-leader-id", "n2")
	h.Error("failed to contact quorum")
	out := buf.String()
	if strings.Contains(out, "entering follower state") {
		t.Errorf("raft's info passed --log-level warn:\n%s", out)
	}
	if !strings.Contains(out, `level=WARN msg="raft: heartbeat timeout reached, starting election: last-leader-id=n2"`) ||
		!strings.Contains(out, `level=ERROR msg="raft: failed to contact quorum"`) {
		t.Errorf("raft's warnings and errors at their levels:\n%s", out)
	}
}
