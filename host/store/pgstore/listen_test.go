package pgstore

import (
	"testing"

	"github.com/apflow-wasm/apflow/host/cluster"
)

func TestParseNotice(t *testing.T) {
	tests := []struct {
		channel, payload string
		want             cluster.Notice
	}{
		{"apflow_settled", "tree 1", cluster.Notice{Kind: cluster.NoticeSettled, ID: "tree 1"}},
		{"apflow_queued", "", cluster.Notice{Kind: cluster.NoticeQueued}},
		{"apflow_cancel", "42 alice/a b", cluster.Notice{Kind: cluster.NoticeCancel, ID: "alice/a b", Token: 42}},
		{"apflow_cancel", "x", cluster.Notice{Kind: cluster.NoticeCancel}},
		{"apflow_cancel", "nan id", cluster.Notice{Kind: cluster.NoticeCancel, ID: "id"}},
	}
	for _, tt := range tests {
		if got := parseNotice(tt.channel, tt.payload); got != tt.want {
			t.Errorf("parseNotice(%q, %q) = %+v, want %+v", tt.channel, tt.payload, got, tt.want)
		}
	}
}
