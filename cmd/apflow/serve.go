package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/host/api"
	"github.com/apflow-wasm/apflow/host/api/auth"
	"github.com/apflow-wasm/apflow/host/dashboard"
	"github.com/apflow-wasm/apflow/host/idempotency"
	"github.com/apflow-wasm/apflow/host/scheduler"
)

// version is reported by system.health and the agent card.
const version = "0.1.0"

// serveOptions are apflow serve's flags and secrets.
type serveOptions struct {
	addr, baseURL                string
	secret, webhookSecret        string // --jwt-secret, --webhook-secret, or their variables
	allowedHosts                 []string
	drain, webhookWindow, keyTTL time.Duration
	webhookAllowPrivate, ui      bool
	maxBody                      int64
	sched                        schedulerFlags
}

func newServeCmd(g *globals) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the apflow JSON-RPC API over HTTP",
		Long: `Serve resumes the runs a crash interrupted, watches the plugins directory (new,
changed and removed .wasm files take effect without a restart), and answers apflow's
JSON-RPC 2.0 protocol on POST /tasks, with SSE streaming, plugin upload, A2A, /healthz and
/metrics, and the web dashboard at /ui/ (unless --ui=false). With --jwt-secret (or $APFLOW_JWT_SECRET) every endpoint requires an HS256 bearer
token (mint one with apflow token). With --webhook-secret (or $APFLOW_WEBHOOK_SECRET),
POST /webhook/trigger/{task_id} takes HMAC-signed triggers from external schedulers, and
refuses unsigned ones without a token. Without a secret it refuses requests that another
site's page makes a browser send, and Host names other than its IP addresses, localhost
and those of --allowed-host and --base-url (docs/api.md, "Without authentication").
Unless --scheduler=false, it runs scheduled tasks
when their next_run_at comes (docs/schedules.md). On SIGINT/SIGTERM it stops taking requests, lets
running tasks finish for --drain, and puts the rest back to pending for the next start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.secret = os.Getenv("APFLOW_JWT_SECRET")
			if f := cmd.Flags().Lookup("jwt-secret"); f.Changed {
				o.secret = f.Value.String()
			}
			o.webhookSecret = os.Getenv("APFLOW_WEBHOOK_SECRET")
			if f := cmd.Flags().Lookup("webhook-secret"); f.Changed {
				o.webhookSecret = f.Value.String()
			}
			switch {
			case o.keyTTL <= 0:
				return &exitError{code: exitInvalid, msg: fmt.Sprintf("serve: --idempotency-ttl must be positive, not %s", o.keyTTL)}
			case o.drain < 0:
				return &exitError{code: exitInvalid, msg: fmt.Sprintf("serve: --drain must not be negative, got %s", o.drain)}
			case o.webhookWindow <= 0:
				return &exitError{code: exitInvalid, msg: fmt.Sprintf("--webhook-window must be positive, got %s", o.webhookWindow)}
			}
			return g.serve(cmd.Context(), &o)
		},
	}
	cmd.Flags().StringVar(&o.addr, "addr", "127.0.0.1:8000", "address to listen on")
	cmd.Flags().Int64Var(&o.maxBody, "max-body-bytes", api.DefaultMaxBodyBytes, "largest JSON request body, and so the largest tree tasks.create and tasks.execute take (about 90 bytes per small task)")
	cmd.Flags().String("jwt-secret", "", "enable JWT auth with this HS256 secret (or $APFLOW_JWT_SECRET)")
	cmd.Flags().BoolVar(&o.ui, "ui", true, "serve the web dashboard at /ui/ (its pages use the API with the user's token)")
	cmd.Flags().StringVar(&o.baseURL, "base-url", "", "public URL of the server, for the A2A agent card")
	cmd.Flags().StringSliceVar(&o.allowedHosts, "allowed-host", nil, "a host name this server answers without authentication, besides its IP addresses and localhost (repeat, or separate with commas)")
	cmd.Flags().DurationVar(&o.drain, "drain", 30*time.Second, "on shutdown, how long running tasks get to finish")
	cmd.Flags().String("webhook-secret", "", "the HMAC-SHA256 key of signed POST /webhook/trigger/{task_id} requests (or $APFLOW_WEBHOOK_SECRET); with it, unsigned triggers need a bearer token")
	cmd.Flags().DurationVar(&o.webhookWindow, "webhook-window", api.DefaultWebhookWindow, "how far a signed trigger's X-Webhook-Timestamp may be from the server's clock")
	cmd.Flags().DurationVar(&o.keyTTL, "idempotency-ttl", idempotency.DefaultTTL, "how long an idempotency_key of tasks.create and tasks.execute holds; expired keys are free again and purged")
	o.sched.register(cmd)
	cmd.Flags().BoolVar(&o.webhookAllowPrivate, "webhook-allow-private", false, "let tasks.execute webhooks reach loopback, private, link-local, multicast and unspecified addresses (refused by default)")
	return cmd
}

// serve opens the host, serves the API until ctx ends or the listener fails, then
// shuts down: requests first, then the host, within --drain.
func (g *globals) serve(ctx context.Context, o *serveOptions) error {
	h, err := g.openHost(ctx, roleServer)
	if err != nil {
		return err
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	srv, sch, ln, err := g.startServer(watchCtx, h, o)
	if err != nil {
		stopWatch()
		_ = h.close(context.Background())
		return err
	}
	stopScheduler := runScheduler(sch)
	g.announce(h, o, ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	sctx, cancel := context.WithTimeout(context.Background(), o.drain)
	defer cancel()
	stopWatch()
	stopScheduler() // before the engine closes: no run starts during the drain
	err = errors.Join(srv.Shutdown(sctx), h.close(sctx))
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}

// startServer builds the scheduler and the API server of h, starts watching the plugins
// directory until watchCtx ends, and listens on --addr.
func (g *globals) startServer(watchCtx context.Context, h *host, o *serveOptions) (*api.Server, *scheduler.Scheduler, net.Listener, error) {
	sch, err := o.sched.build(h)
	if err != nil {
		return nil, nil, nil, err
	}
	go h.registry.Watch(watchCtx)
	acfg, err := g.apiConfig(h, o, sch)
	if err != nil {
		return nil, nil, nil, err
	}
	srv, err := api.New(acfg)
	if err != nil {
		return nil, nil, nil, err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	return srv, sch, ln, nil
}

// apiConfig is the API server's configuration of h.
func (g *globals) apiConfig(h *host, o *serveOptions, sch *scheduler.Scheduler) (api.Config, error) {
	acfg := api.Config{
		Store:        h.store,
		Engine:       h.engine,
		Catalog:      h.catalog,
		Prepare:      api.SubmitPrepare(h.catalog, h.store, nil, h.taskSchemas, int(o.maxBody)),
		MaxBodyBytes: o.maxBody,
		Plugins:      h.plugins,
		JWTSecret:    []byte(o.secret),
		Logger:       h.log.Named("api"),
		Version:      version,
		BaseURL:      o.baseURL,
		AllowedHosts: o.allowedHosts,

		WebhookAllowPrivate: o.webhookAllowPrivate,
		WebhookSecret:       []byte(o.webhookSecret),
		WebhookWindow:       o.webhookWindow,
		Keys:                h.keys,
		KeyTTL:              o.keyTTL,
		KVSpaces:            h.kv,
		Metrics:             []api.MetricsWriter{h.registry}, // the plugins' pool counters
	}
	if h.node != nil {
		acfg.Cluster = h.node
	}
	acfg.RequestBody = g.memTableAdvice(o.maxBody, h.log.Named("api"))
	if gen := h.generator(acfg.Prepare); gen != nil {
		acfg.Generator = gen
	}
	if o.ui {
		d, err := dashboard.Handler()
		if err != nil {
			return api.Config{}, err
		}
		acfg.Dashboard = d
	}
	if sch != nil {
		acfg.Metrics = append(acfg.Metrics, sch)
		acfg.ScheduleChanged = sch.Wake
	}
	return acfg, nil
}

// announce prints where the server listens, and warns of a flag that does nothing.
func (g *globals) announce(h *host, o *serveOptions, addr net.Addr) {
	auth := "off"
	if o.secret != "" {
		auth = "HS256 bearer tokens"
		if len(o.allowedHosts) > 0 {
			h.log.Warn("--allowed-host does nothing with authentication on: a server with --jwt-secret answers any Host (docs/api.md, \"Without authentication\")")
		}
	}
	node := ""
	if h.node != nil {
		node = ", cluster node " + h.node.NodeID()
	}
	fmt.Fprintf(g.stdout, "apflow %s serving on http://%s (plugins %s, auth %s%s)\n", version, addr, h.registry.Dir(), auth, node)
	if o.ui {
		fmt.Fprintf(g.stdout, "dashboard: http://%s/ui/\n", addr)
	}
}

func newTokenCmd(g *globals) *cobra.Command {
	var sub string
	var admin bool
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint an HS256 bearer token for apflow serve --jwt-secret",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret := os.Getenv("APFLOW_JWT_SECRET")
			if f := cmd.Flags().Lookup("jwt-secret"); f.Changed {
				secret = f.Value.String()
			}
			if secret == "" {
				return &exitError{code: exitInvalid, msg: "token: give --jwt-secret or set APFLOW_JWT_SECRET"}
			}
			if sub == "" {
				return &exitError{code: exitInvalid, msg: "token: --sub (the user id) is required"}
			}
			opts := auth.MintOptions{Subject: sub, TTL: ttl}
			if admin {
				opts.Roles = []string{"admin"}
			}
			tok, err := auth.Mint([]byte(secret), opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&sub, "sub", "", "the user the token is for (its tasks' user_id)")
	cmd.Flags().BoolVar(&admin, "admin", false, "grant the admin role (sees every user's tasks, manages plugins)")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid")
	cmd.Flags().String("jwt-secret", "", "the server's HS256 secret (or $APFLOW_JWT_SECRET)")
	return cmd
}
