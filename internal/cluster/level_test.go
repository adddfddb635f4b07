package cluster

import (
	"testing"

	"github.com/hashicorp/raft"

	"github.com/weir-nifi/weir/internal/command"
)

func TestLowestLevelCountsVotersOnly(t *testing.T) {
	servers := []raft.Server{
		{ID: "a", Suffrage: raft.Voter},
		{ID: "b", Suffrage: raft.Voter},
		{ID: "c", Suffrage: raft.Nonvoter},
	}
	if got := lowestLevel(servers, map[string]int{"a": command.Level, "b": command.Level, "c": 0}); got != command.Level {
		t.Fatalf("a non-voter lowered the level: %d", got)
	}
	// A voter without a level (an older build, or no record yet) counts
	// as level 1.
	if got := lowestLevel(servers, map[string]int{"a": command.Level + 5}); got != 1 {
		t.Fatalf("got %d, want 1", got)
	}
}
