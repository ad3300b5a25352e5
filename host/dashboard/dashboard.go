package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets/index.html assets/app.css assets/favicon.svg assets/js/*.js
var assets embed.FS

// contentSecurityPolicy allows the server's own origin only: no inline script or style
// (the pages set styles through the CSSOM, which the policy does not restrict).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; style-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// file is one asset, ready to serve.
type file struct {
	name        string
	contentType string
	etag, gzTag string // strong validators of body and gz: one per content coding
	body, gz    []byte
}

// Handler serves the dashboard's files: "/" (and "/index.html") is the shell, other
// paths are the files of assets/; anything else is 404. Mount it under a prefix with
// http.StripPrefix. It fails only if the embedded files cannot be read, which a built
// binary rules out.
func Handler() (http.Handler, error) {
	files := map[string]*file{}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := load(p)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(p, "assets")] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dashboard: read the embedded files: %w", err)
	}
	files["/"] = files["/index.html"]
	return handler(files), nil
}

// load reads one embedded file and prepares its headers and gzip body.
func load(p string) (*file, error) {
	body, err := assets.ReadFile(p)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if _, err := w.Write(body); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	ct := mime.TypeByExtension(path.Ext(p))
	if ct == "" {
		ct = "application/octet-stream"
	}
	tag := hex.EncodeToString(sum[:16])
	return &file{name: path.Base(p), contentType: ct, etag: `"` + tag + `"`, gzTag: `"` + tag + `-gz"`, body: body, gz: gz.Bytes()}, nil
}

type handler map[string]*file

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, ok := h[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hd.Set("Content-Type", f.contentType)
	hd.Set("Cache-Control", "no-cache") // revalidate: a new binary may serve new files
	hd.Add("Vary", "Accept-Encoding")
	body, etag := f.body, f.etag
	if acceptsGzip(r) {
		hd.Set("Content-Encoding", "gzip")
		body, etag = f.gz, f.gzTag
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether the request's Accept-Encoding lists gzip (without q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}
