package cli

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// configFlag is the flag naming a settings file (`weir server --config
// weir.yaml`).
const configFlag = "config"

// applyConfig fills every flag still unset (neither on the command line
// nor from WEIR_*) from the YAML file --config names: a mapping of flag
// names to values, lists for flags that take several. An unknown name is
// an error, so a typo does not pass silently.
func applyConfig(cmd *cobra.Command) error {
	f := cmd.Flags().Lookup(configFlag)
	if f == nil || f.Value.String() == "" {
		return nil
	}
	path := f.Value.String()
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var settings map[string]any
	if err := yaml.Unmarshal(b, &settings); err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	names := make([]string, 0, len(settings))
	for name := range settings {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fl := cmd.Flags().Lookup(name)
		if fl == nil || name == configFlag {
			return fmt.Errorf("--config %s: %q is not a setting of weir %s (see weir %s --help)", path, name, cmd.Name(), cmd.Name())
		}
		if fl.Changed {
			continue // the command line and the environment win
		}
		vals, err := configValues(settings[name])
		if err != nil {
			return fmt.Errorf("--config %s: %s: %w", path, name, err)
		}
		for _, v := range vals {
			if err := cmd.Flags().Set(name, v); err != nil {
				return fmt.Errorf("--config %s: %s: %w", path, name, err)
			}
		}
	}
	return nil
}

// configValues turns a YAML value into what the flag is set with (a list
// sets a repeatable flag once per element).
func configValues(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case bool:
		return []string{strconv.FormatBool(v)}, nil
	case float64:
		return []string{strconv.FormatFloat(v, 'f', -1, 64)}, nil
	case []any:
		var out []string
		for _, e := range v {
			s, err := configValues(e)
			if err != nil || len(s) != 1 {
				return nil, fmt.Errorf("a list holds only plain values")
			}
			out = append(out, s...)
		}
		return out, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("unsupported value %v (a string, number, true/false or a list of them)", v)
}

// settingsHelp tells where a command's settings may come from, with
// every WEIR_* name.
func settingsHelp(cmd *cobra.Command) string {
	var env []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && f.Name != "help" {
			env = append(env, envName(f.Name))
		}
	})
	return "\n\nSettings come from the command line, then from the environment (each flag's\nWEIR_* name below), then from --config FILE (YAML, the flag names as keys, e.g.\n\"data-dir: /var/lib/weir\"); the first that sets one wins.\n\nEnvironment: " +
		strings.Join(env, ", ") + "."
}

func envName(flag string) string {
	return "WEIR_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
