package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/labstack/echo/v4"

	"github.com/apflow-wasm/apflow/host/api/auth"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/store"
)

// Defaults of Config.
const (
	DefaultMaxBodyBytes   = 8 << 20
	DefaultMaxPluginBytes = 64 << 20
	DefaultMaxBatch       = 100
	DefaultReadTimeout    = 60 * time.Second
	DefaultWriteTimeout   = 60 * time.Second
	DefaultIdleTimeout    = 120 * time.Second
	DefaultKeepAlive      = 15 * time.Second
	DefaultWebhookBackoff = time.Second
)

// Config configures a Server.
type Config struct {
	// Store persists tasks. Required.
	Store store.Store
	// Engine runs trees. Required: an *engine.Engine.
	Engine Engine
	// Catalog lists and resolves executors. Required.
	Catalog executor.Catalog
	// Prepare validates submissions. Required; see SubmitPrepare.
	Prepare PrepareFunc
	// Plugins enables the /plugins routes when not nil.
	Plugins Plugins
	// KVSpaces enables the /kv/spaces routes, which list and drop plugins' key-value
	// spaces (docs/kv.md), when not nil; pass the store itself.
	KVSpaces KVSpaces
	// Generator answers tasks.generate; nil makes the method answer that no language
	// model is configured (-32603, data.reason "llm_not_configured").
	Generator Generator
	// JWTSecret enables HS256 bearer authentication on every route when not empty.
	JWTSecret []byte
	// Logger receives request and server logs; nil discards them.
	Logger hclog.Logger
	// Version is reported by system.health and the agent card.
	Version string
	// BaseURL is the public URL of the server, for the agent card; empty uses the
	// request's host. Without authentication its host is one of AllowedHosts.
	BaseURL string
	// AllowedHosts are the names, besides IP literals, localhost and *.localhost, that
	// a server without authentication answers in a request's Host header: its guard
	// against DNS rebinding (openguard.go). With authentication it answers any.
	AllowedHosts []string
	// MaxBodyBytes bounds JSON request bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// MaxPluginBytes bounds plugin uploads (default DefaultMaxPluginBytes).
	MaxPluginBytes int64
	// MaxBatch bounds the number of requests in one JSON-RPC batch (default 100).
	MaxBatch int
	// ReadTimeout, WriteTimeout and IdleTimeout configure the http.Server of Start.
	// Streams, and calls that wait for a run or a model (tasks.execute, tasks.generate,
	// a synchronous webhook trigger), lift the write deadline for themselves.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// WebhookSecret, when not empty, is the HMAC-SHA256 key of signed webhook triggers
	// (POST /webhook/trigger/{task_id}), and makes every trigger prove it: signed, or
	// with a bearer token. WebhookWindow is how far a signed trigger's timestamp may be
	// from the server's clock (default DefaultWebhookWindow).
	WebhookSecret []byte
	WebhookWindow time.Duration
	// KeepAlive is the interval of SSE keep-alive comments (default 15s).
	KeepAlive time.Duration
	// WebhookClient sends webhook callbacks; nil uses a client that follows no
	// redirects, ignores proxy settings of the environment and, unless
	// WebhookAllowPrivate, refuses to connect to loopback, private, link-local,
	// multicast or unspecified addresses (checked on the address actually dialled, after
	// DNS resolution). A client given here replaces that dial-time guard: it is the
	// caller's to enforce.
	WebhookClient *http.Client
	// WebhookAllowPrivate lets webhooks reach loopback, private, link-local, multicast
	// and unspecified addresses (off by default: an API user could otherwise make the
	// server send requests into its own network). Without it, tasks.execute refuses a
	// webhook_config.url whose host is such an IP literal or localhost (-32602), and a
	// delivery to a name resolving to such an address fails and is logged.
	WebhookAllowPrivate bool
	// WebhookBackoff is the first retry delay of a webhook delivery, doubled on each
	// retry (default 1s).
	WebhookBackoff time.Duration
	// Metrics are extra writers for GET /metrics: the plugin registry's pool counters
	// (whether Plugins is the registry or a cluster's syncer in front of it), a
	// scheduler's figures.
	Metrics []MetricsWriter
	// Cluster is this server's node of a cluster (several servers sharing a PostgreSQL
	// store), or nil for a single server. /healthz then names the node, and /metrics
	// adds the cluster's gauges.
	Cluster Cluster
	// Keys records idempotency keys (tasks.create and tasks.execute's idempotency_key,
	// docs/api.md "Idempotency keys"); pass the store itself. nil refuses every
	// idempotency_key. Server.Serve purges expired keys while it serves.
	Keys store.Keys
	// KeyTTL is how long an idempotency key holds (default DefaultKeyTTL); a key older
	// than this is free again.
	KeyTTL time.Duration
	// ScheduleChanged, when set, is called after a write that armed or changed a
	// schedule (a tree created with one, tasks.update, tasks.scheduled.init): apflow
	// serve wakes its scheduler, which polls anyway.
	ScheduleChanged func()
	// RequestBody, when set, is called with the length of each JSON request body the
	// server reads (JSON-RPC, A2A), before it is decoded: apflow serve advises on its
	// store's memtables when a request is large.
	RequestBody func(bytes int)
	// Dashboard, when not nil, is served at /ui/ (GET and HEAD; GET / and /ui redirect
	// there) without a token: it must serve only static files that hold no data and reach
	// everything through the API's authenticated routes (host/dashboard).
	Dashboard http.Handler
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c *Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("api: Config.Store is required")
	case c.Engine == nil:
		return errors.New("api: Config.Engine is required")
	case c.Catalog == nil:
		return errors.New("api: Config.Catalog is required")
	case c.Prepare == nil:
		return errors.New("api: Config.Prepare is required")
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	def(&c.MaxPluginBytes, DefaultMaxPluginBytes)
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	dur(&c.ReadTimeout, DefaultReadTimeout)
	dur(&c.WriteTimeout, DefaultWriteTimeout)
	dur(&c.IdleTimeout, DefaultIdleTimeout)
	dur(&c.KeepAlive, DefaultKeepAlive)
	dur(&c.WebhookBackoff, DefaultWebhookBackoff)
	dur(&c.KeyTTL, DefaultKeyTTL)
	if c.WebhookClient == nil {
		c.WebhookClient = newWebhookClient(newWebhookDialer(c.WebhookAllowPrivate).DialContext)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Server is the apflow HTTP API. Its handler is safe for concurrent use.
type Server struct {
	cfg      Config
	log      hclog.Logger
	echo     *echo.Echo
	verifier *auth.Verifier // nil: authentication off
	hosts    hostGuard      // without authentication, the Host names answered
	methods  map[string]*method
	metrics  *metrics
	// stopObserving ends the executor calls' reports to metrics (Engine.ObserveExecutors).
	stopObserving func()
	started       time.Time

	// closing is closed by Shutdown: streams end and waiting executes answer.
	closing   chan struct{}
	closeOnce sync.Once
	// background counts webhook workers and run watchers.
	background sync.WaitGroup

	mu  sync.Mutex
	srv *http.Server

	// triggers remembers the signed triggers accepted within the webhook window, so a
	// replayed one is refused.
	triggers replayGuard
}

// New builds a Server.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, closing: make(chan struct{}), started: cfg.Now()}
	if len(cfg.JWTSecret) > 0 {
		v, err := auth.NewVerifier(cfg.JWTSecret, cfg.Now)
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		s.verifier = v
	}
	if cfg.BaseURL != "" {
		if _, err := parseBaseURL(cfg.BaseURL); err != nil {
			return nil, err
		}
	}
	if s.verifier == nil { // the guard of a server without authentication (openguard.go)
		hosts, err := newHostGuard(cfg.AllowedHosts, cfg.BaseURL)
		if err != nil {
			return nil, err
		}
		s.hosts = hosts
	}
	s.metrics = newMetrics()
	ms, err := s.buildMethods()
	if err != nil {
		return nil, err
	}
	s.stopObserving = cfg.Engine.ObserveExecutors(s.metrics.observeExecutor)
	s.methods = ms
	s.echo = s.routes()
	return s, nil
}

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler { return s.echo }

// Start listens on addr and serves until Shutdown; it returns http.ErrServerClosed after
// a Shutdown.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", addr, err)
	}
	return s.Serve(ln)
}

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          s.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	s.mu.Lock()
	if s.srv != nil {
		s.mu.Unlock()
		return errors.New("api: server already started")
	}
	s.srv = srv
	s.mu.Unlock()
	if s.cfg.Keys != nil {
		s.background.Add(1)
		go s.purgeLoop()
	}
	s.log.Info("listening", "addr", ln.Addr().String(), "auth", s.verifier != nil)
	return srv.Serve(ln)
}

// Shutdown stops accepting connections, ends open event streams (after a final frame),
// makes waiting tasks.execute calls answer with the current status, waits for in-flight
// requests and webhook deliveries, until ctx is done. Runs keep going in the engine: close
// the engine after the server.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.stopObserving()
	})
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Shutdown(ctx)
	}
	done := make(chan struct{})
	go func() { s.background.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("api: shutdown: background work still running: %w", ctx.Err())
		}
	}
	return err
}

// routes registers every route on a new Echo.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.httpError
	e.Use(s.recoverMiddleware, s.logMiddleware, s.authMiddleware)

	e.POST("/tasks", s.rpcHandler(endpointTasks))
	e.POST("/system", s.rpcHandler(endpointSystem))
	e.GET("/tasks/methods", s.handleMethods)
	e.GET("/events", s.handleEvents)
	e.POST(triggerPathPrefix+"*", s.handleWebhookTrigger)

	e.POST("/", s.handleA2A)
	for _, p := range []string{"/.well-known/agent-card", "/.well-known/agent-card.json", "/.well-known/agent.json"} {
		e.GET(p, s.handleAgentCard)
	}

	e.POST("/plugins", s.handlePluginUpload)
	e.GET("/plugins", s.handlePluginList)
	e.GET("/plugins/:id", s.handlePluginGet)
	e.DELETE("/plugins/:id", s.handlePluginDelete)
	e.GET("/kv/spaces", s.handleKVSpaces)
	e.DELETE("/kv/spaces/:plugin", s.handleKVDrop)

	e.GET("/healthz", s.handleHealthz)
	e.GET("/metrics", s.handleMetrics)
	e.GET("/openapi.json", s.handleOpenAPI)
	if s.cfg.Dashboard != nil {
		ui := echo.WrapHandler(http.StripPrefix(dashboardPrefix, s.cfg.Dashboard))
		e.GET(dashboardPrefix+"/*", ui)
		e.HEAD(dashboardPrefix+"/*", ui)
		toUI := func(c echo.Context) error { return c.Redirect(http.StatusFound, dashboardPrefix+"/") }
		for _, p := range []string{dashboardPrefix, "/"} {
			e.GET(p, toUI)
			e.HEAD(p, toUI)
		}
	}
	return e
}
