// Command weir is the Weir server and its operator tools.
package main

import (
	"os"

	"github.com/weir-nifi/weir/internal/cli"
)

func main() { os.Exit(cli.Execute()) }
