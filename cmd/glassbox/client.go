package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Environment variables and defaults for talking to a running server.
const (
	ServerEnv     = "GLASSBOX_SERVER"
	TokenEnv      = "GLASSBOX_TOKEN"
	defaultServer = "http://127.0.0.1:8080"
)

// savedLogin is what 'glassbox login' saves.
type savedLogin struct {
	Server string `json:"server"`
	Token  string `json:"token"`
}

func credentialsPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "glassbox", "credentials.json"), nil
}

func loadCredentials() savedLogin {
	var c savedLogin
	if p, err := credentialsPath(); err == nil {
		if b, err := os.ReadFile(p); err == nil {
			_ = json.Unmarshal(b, &c)
		}
	}
	return c
}

// clientFlags say which server to call and with which token: flags, then
// GLASSBOX_SERVER / GLASSBOX_TOKEN, then the file 'glassbox login' wrote.
type clientFlags struct {
	server string
	token  string
}

func (f *clientFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.server, "server", "", "Glassbox server URL (default: $"+ServerEnv+", the saved login, or "+defaultServer+")")
	c.Flags().StringVar(&f.token, "token", "", "API token (default: $"+TokenEnv+" or the saved login)")
}

func (f *clientFlags) client() (*apiClient, error) {
	saved := loadCredentials()
	server := firstNonEmpty(f.server, os.Getenv(ServerEnv), saved.Server, defaultServer)
	token := firstNonEmpty(f.token, os.Getenv(TokenEnv), saved.Token)
	if token == "" {
		return nil, usagef("no API token: pass --token, set %s, or run 'glassbox login'", TokenEnv)
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--server %q: want http(s)://host:port", server)
	}
	return &apiClient{base: strings.TrimSuffix(server, "/"), token: token, http: &http.Client{Timeout: 60 * time.Second}}, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// apiClient calls the control-plane API.
type apiClient struct {
	base, token string
	http        *http.Client
}

// apiError is the API's error body.
type apiError struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// do sends a request and decodes a JSON answer into out (unless nil). A
// non-2xx answer becomes an error carrying the server's message.
func (c *apiClient) do(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("call %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e apiError
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("%s %s: %d %s (request id %s)", method, path, resp.StatusCode, e.Error.Message, e.Error.RequestID)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	if w, ok := out.(io.Writer); ok {
		_, err := w.Write(b)
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func newLoginCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:   "login --server URL [--token TOKEN]",
		Short: "Check a token against a server and save both for later commands",
		Long: `Verify TOKEN (read from standard input when --token is not given) against the
server's /api/v1/whoami and save the server URL and token, readable by you
only, in the user config folder (credentials.json). Later commands use them
unless --server/--token or GLASSBOX_SERVER/GLASSBOX_TOKEN say otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if f.token == "" {
				b, err := io.ReadAll(io.LimitReader(c.InOrStdin(), 4096))
				if err != nil {
					return err
				}
				f.token = strings.TrimSpace(string(b))
			}
			if f.token == "" {
				return usagef("no token given (--token, or pipe it on standard input)")
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			var who map[string]any
			if err := cl.do(http.MethodGet, "/api/v1/whoami", nil, &who); err != nil {
				return err
			}
			p, err := credentialsPath()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			b, _ := json.MarshalIndent(savedLogin{Server: cl.base, Token: f.token}, "", "  ")
			if err := os.WriteFile(p, b, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "logged in to %s as %v (roles %v); saved in %s\n", cl.base, who["id"], who["roles"], p)
			return nil
		},
	}
	f.register(c)
	return c
}

func newTokenCommand() *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens"}
	var f clientFlags
	var name, ttl string
	var roles []string
	create := &cobra.Command{
		Use:   "create --name NAME --role ROLE [--role ROLE...] [--ttl 720h]",
		Short: "Create a token; its secret is printed once",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if name == "" || len(roles) == 0 {
				return usagef("token create needs --name and at least one --role")
			}
			if ttl != "" {
				if _, err := time.ParseDuration(ttl); err != nil {
					return usagef("--ttl %q: want a duration such as 720h", ttl)
				}
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			var out map[string]any
			if err := cl.do(http.MethodPost, "/api/v1/tokens", map[string]any{"name": name, "roles": roles, "ttl": ttl}, &out); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "token %v created (roles %v). Its secret, shown only now:\n\n    %v\n\n", out["id"], out["roles"], out["token"])
			return nil
		},
	}
	f.register(create)
	create.Flags().StringVar(&name, "name", "", "a name saying who or what uses the token")
	create.Flags().StringSliceVar(&roles, "role", nil, "role to grant (repeatable): admin, ml-engineer, data-scientist, auditor, invoker, viewer, or a custom role")
	create.Flags().StringVar(&ttl, "ttl", "", "lifetime, e.g. 720h (default: no expiry)")

	var lf clientFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (ids, names, roles, expiry; never secrets)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := lf.client()
			if err != nil {
				return err
			}
			var out any
			if err := cl.do(http.MethodGet, "/api/v1/tokens", nil, &out); err != nil {
				return err
			}
			return printJSON(c.OutOrStdout(), out)
		},
	}
	lf.register(list)

	var rf clientFlags
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := rf.client()
			if err != nil {
				return err
			}
			if err := cl.do(http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "token %s revoked\n", args[0])
			return nil
		},
	}
	rf.register(revoke)
	c.AddCommand(create, list, revoke)
	return c
}

func newAuditLogCommand() *cobra.Command {
	c := &cobra.Command{Use: "audit-log", Short: "Read, export and verify the audit log"}
	var lf clientFlags
	var actor, action, since string
	list := &cobra.Command{
		Use:   "list [--actor A] [--action X] [--since T]",
		Short: "List audit events, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := lf.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"actor": actor, "action": action, "since": since} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var out any
			if err := cl.do(http.MethodGet, "/api/v1/audit-log?"+q.Encode(), nil, &out); err != nil {
				return err
			}
			return printJSON(c.OutOrStdout(), out)
		},
	}
	lf.register(list)
	list.Flags().StringVar(&actor, "actor", "", "only this actor, e.g. token:abcd1234")
	list.Flags().StringVar(&action, "action", "", "only this action, e.g. endpoints.update")
	list.Flags().StringVar(&since, "since", "", "only events at or after this RFC 3339 time")

	var ef clientFlags
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the whole audit log as JSON Lines to standard output",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := ef.client()
			if err != nil {
				return err
			}
			return cl.do(http.MethodGet, "/api/v1/audit-log/export", nil, c.OutOrStdout())
		},
	}
	ef.register(export)

	var vf clientFlags
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain; exit 1 if any row was changed or removed",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := vf.client()
			if err != nil {
				return err
			}
			var out struct {
				OK       bool  `json:"ok"`
				Checked  int64 `json:"checked"`
				Problems []struct {
					Seq    int64  `json:"seq"`
					Reason string `json:"reason"`
				} `json:"problems"`
			}
			if err := cl.do(http.MethodGet, "/api/v1/audit-log/verify", nil, &out); err != nil {
				return err
			}
			if out.OK {
				fmt.Fprintf(c.OutOrStdout(), "audit log intact: %d events checked\n", out.Checked)
				return nil
			}
			for _, p := range out.Problems {
				fmt.Fprintf(c.OutOrStdout(), "event %d: %s\n", p.Seq, p.Reason)
			}
			return errors.New("audit log has been tampered with")
		},
	}
	vf.register(verify)
	c.AddCommand(list, export, verify)
	return c
}
