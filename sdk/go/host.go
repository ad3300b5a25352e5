package apflow

// Host is what a plugin can ask of the apflow host: the functions of the "apflow" import
// module of docs/abi.md, at the level of bytes. In a wasm build the SDK talks to the real
// host; natively, package apflowtest provides a recording fake. Authors use [Context],
// never Host directly, except to write their own fakes.
type Host interface {
	// Log writes one log line; level is one of the Level constants.
	Log(level int, msg string)
	// Progress reports the task's progress; the host clamps it to 0..1.
	Progress(value float64)
	// HTTPRequest performs the http_request host function: a JSON request in, the JSON
	// response (or {"error": …}) out; nil when the host returned nothing.
	HTTPRequest(req []byte) []byte
	// ConfigGet returns a granted config value, or false when the key is not granted or
	// not set.
	ConfigGet(key string) ([]byte, bool)
	// StoreCall performs the store_call host function (hooks with the repository grant).
	StoreCall(req []byte) []byte
	// SleepMS performs the sleep_ms host function (capability "clock"): it waits ms
	// milliseconds, less when the task is cancelled or its deadline passes, and returns
	// the host's status, one of the Sleep constants (docs/abi.md, "sleep_ms").
	SleepMS(ms int64) int32
	// KVCall performs one of the key-value host functions (capability "kv"): function
	// is "kv_get", "kv_set", "kv_delete" or "kv_list", req its JSON request; it returns
	// the JSON answer, or {"error": …, "code": …} (docs/kv.md).
	KVCall(function string, req []byte) []byte
	// LLMComplete performs the llm_complete host function (capability "llm"): a JSON
	// request in, the JSON answer, or {"error": …, "code": …}, out (docs/abi.md).
	LLMComplete(req []byte) []byte
}

// Log levels of the log host function.
const (
	LevelTrace = 0
	LevelDebug = 1
	LevelInfo  = 2
	LevelWarn  = 3
	LevelError = 4
)
