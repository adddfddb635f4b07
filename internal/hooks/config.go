package hooks

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/weir-nifi/weir/internal/events"
)

// Hook kinds.
const (
	KindLog     = "log"
	KindScript  = "script"
	KindWebhook = "webhook"
)

// Config is the hooks file (--hooks FILE, YAML or JSON). Every node of a
// cluster should be given the same file: whichever node leads delivers.
type Config struct {
	Hooks     []Hook    `json:"hooks"`
	Delivery  Delivery  `json:"delivery"`
	Retention Retention `json:"retention"`
}

// Hook is one consumer of events.
type Hook struct {
	// Name identifies the hook's cursor and dead letters in the
	// replicated state: renaming a hook starts it again from the oldest
	// kept event.
	Name string `json:"name"`
	Kind string `json:"type"`
	// Events is the whitelist of event types (NiFi's "Whitelisted Event
	// Type N"); empty means every type.
	Events []string `json:"events,omitempty"`
	// Timeout bounds one delivery (script run or HTTP request).
	Timeout Duration `json:"timeout,omitempty"`

	// script: runs Path EVENT_TYPE value1 value2 … in WorkingDir, as
	// NiFi's ScriptEventHookProvider; a non-zero exit is a failed delivery.
	Path       string `json:"path,omitempty"`
	WorkingDir string `json:"workingDir,omitempty"`

	// webhook: POSTs the event as JSON to URL, signed with HMAC-SHA256
	// of the body under Secret (or the contents of SecretFile).
	URL        string `json:"url,omitempty"`
	Secret     string `json:"secret,omitempty"`
	SecretFile string `json:"secretFile,omitempty"`
	TLS        TLS    `json:"tls,omitempty"`
}

// TLS configures a webhook's HTTPS client.
type TLS struct {
	CA                 string `json:"ca,omitempty"`
	Cert               string `json:"cert,omitempty"`
	Key                string `json:"key,omitempty"`
	InsecureSkipVerify bool   `json:"insecureSkipVerify,omitempty"`
}

// Delivery is the retry policy of every hook.
type Delivery struct {
	// MaxAttempts is how many times an event is tried before it goes to
	// the dead-letter list.
	MaxAttempts int `json:"maxAttempts,omitempty"`
	// Backoff is the wait after the first failure; it doubles up to
	// MaxBackoff.
	Backoff    Duration `json:"backoff,omitempty"`
	MaxBackoff Duration `json:"maxBackoff,omitempty"`
	// CommitEvery is how often delivered cursors are committed through
	// the log: after a leader change at most this much delivery is
	// repeated.
	CommitEvery Duration `json:"commitEvery,omitempty"`
}

// Retention bounds the outbox: an event delivered to every configured hook
// is compacted once it is older than MaxAge or more than MaxEvents newer
// events exist. Undelivered events are kept.
type Retention struct {
	MaxAge    Duration `json:"maxAge,omitempty"`
	MaxEvents uint64   `json:"maxEvents,omitempty"`
	Every     Duration `json:"every,omitempty"`
}

// Duration is a time.Duration written as "5s", "100ms", "24h".
type Duration time.Duration

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("duration %s is negative", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Defaults.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxAttempts = 10
	DefaultBackoff     = 200 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
	DefaultCommitEvery = 100 * time.Millisecond
	DefaultMaxAge      = 7 * 24 * time.Hour
	DefaultMaxEvents   = 100_000
	DefaultEvery       = 30 * time.Second
)

// Load reads and checks a hooks file; "" is no hooks with the defaults.
func Load(path string) (Config, error) {
	var c Config
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("hooks file: %w", err)
		}
		if err := yaml.UnmarshalStrict(raw, &c); err != nil {
			return c, fmt.Errorf("hooks file %s: %w", path, err)
		}
	}
	return c, c.check()
}

func (c *Config) check() error {
	seen := map[string]bool{}
	for i := range c.Hooks {
		h := &c.Hooks[i]
		where := fmt.Sprintf("hook %d (%q)", i+1, h.Name)
		if h.Name == "" || len(h.Name) > events.MaxHookName || strings.ContainsAny(h.Name, "\x00\n") {
			return fmt.Errorf("%s: a name of 1 to %d bytes is required", where, events.MaxHookName)
		}
		if seen[h.Name] {
			return fmt.Errorf("%s: two hooks have this name", where)
		}
		seen[h.Name] = true
		for _, t := range h.Events {
			if !slices.Contains(events.Types, t) {
				return fmt.Errorf("%s: unknown event type %q (NiFi's types: %s)", where, t, strings.Join(events.Types, ", "))
			}
		}
		if h.Timeout == 0 {
			h.Timeout = Duration(DefaultTimeout)
		}
		switch h.Kind {
		case KindLog:
		case KindScript:
			if h.Path == "" {
				return fmt.Errorf("%s: a script hook needs a path", where)
			}
		case KindWebhook:
			if !strings.HasPrefix(h.URL, "http://") && !strings.HasPrefix(h.URL, "https://") {
				return fmt.Errorf("%s: a webhook needs an http:// or https:// url", where)
			}
			if h.SecretFile != "" {
				b, err := os.ReadFile(h.SecretFile)
				if err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
				h.Secret = strings.TrimSpace(string(b))
			}
			if h.Secret == "" {
				return fmt.Errorf("%s: a webhook needs a secret (or secretFile) to sign its requests", where)
			}
		default:
			return fmt.Errorf("%s: type must be log, script or webhook, not %q", where, h.Kind)
		}
	}
	d := &c.Delivery
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = DefaultMaxAttempts
	}
	if d.Backoff == 0 {
		d.Backoff = Duration(DefaultBackoff)
	}
	if d.MaxBackoff == 0 {
		d.MaxBackoff = Duration(max(DefaultMaxBackoff, time.Duration(d.Backoff)))
	}
	if d.CommitEvery == 0 {
		d.CommitEvery = Duration(DefaultCommitEvery)
	}
	r := &c.Retention
	if r.MaxAge == 0 {
		r.MaxAge = Duration(DefaultMaxAge)
	}
	if r.MaxEvents == 0 {
		r.MaxEvents = DefaultMaxEvents
	}
	if r.Every == 0 {
		r.Every = Duration(DefaultEvery)
	}
	return nil
}

// wants reports whether the hook takes events of type t.
func (h *Hook) wants(t string) bool { return len(h.Events) == 0 || slices.Contains(h.Events, t) }
