// Command glassbox is the Glassbox binary: a gateway that records what goes
// into and comes out of ML model endpoints, and the tools to read it back.
//
// main only wires: it parses flags, loads the config, builds the adapters,
// runs, and turns errors into exit codes.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox"
)

// Exit codes of the glassbox command.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // bad flags or arguments
)

// usageError marks an error caused by how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func main() {
	// Event ids come from a buffered pool of random bytes instead of one
	// crypto/rand read per request. It must be set before any goroutine
	// makes UUIDs, so it is done here, first.
	uuid.EnableRandPool()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI with args and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "glassbox:", err)
	var ec exitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "glassbox",
		Short: "Flight recorder and monitor for ML inference endpoints",
		Long: `Glassbox sits in front of any HTTP model server, records sampled requests and
responses in Amazon SageMaker's Data Capture format, and reads them back.

Start with 'glassbox demo' to see it work with a built-in model, then
'glassbox serve --config etc/glassbox.yaml' in front of your own.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       glassbox.Version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(
		newServeCommand(),
		newDemoCommand(),
		newConfigCommand(),
		newCapturesCommand(),
		newBaselineCommand(),
		newMonitorCommand(),
		newApplyCommand(),
		newLoginCommand(),
		newTokenCommand(),
		newRolesCommand(),
		newAuditLogCommand(),
		newKeysCommand(),
		newVerifyCommand(),
		newAuditCommand(),
		newRetentionCommand(),
		newIaCCommand(),
		newCostCommand(),
		newVersionCommand(),
	)
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintln(c.OutOrStdout(), "glassbox", glassbox.Version)
			return nil
		},
	}
}
