package httpapi

import "github.com/engagedhq/engaged/transport/sse"

// Stats returns operator counters of the share, public, e-mail and
// internal-subject paths and of the item set since start, for the operator
// listener's /stats.
func (s *Server) Stats() map[string]any {
	st := &s.sh.stats
	var accepted, duplicate, rejected, failed int64
	if s.opts.SystemCounts != nil {
		accepted, duplicate, rejected, failed = s.opts.SystemCounts()
	}
	return map[string]any{
		"systemEvents": map[string]any{
			"accepted": accepted, "duplicate": duplicate,
			"rejected": rejected, "failed": failed,
		},
		"public": map[string]any{
			"rateLimited": st.rateLimited.Load(), "pixelsInvalid": st.pixelsInvalid.Load(),
			"opensNotRecorded": st.opensNotRecorded.Load(),
			// Served but not counted as events (bots.go), by reason.
			"botsCrawler": st.botsCrawler.Load(), "botsPrefetch": st.botsPrefetch.Load(), "botsEmptyUserAgent": st.botsEmptyUA.Load(),
			"ipLimiters": s.sh.byIP.len(), "shareLimiters": s.sh.byShare.len(),
		},
		"mail": map[string]any{"sent": st.mailSent.Load(), "failed": st.mailFailed.Load()},
		"sse":  map[string]any{"open": s.streams.Count(), "dropped": s.streams.Dropped()},
		// Which items exist (itemset.go): a hit asked no one.
		"itemSet": s.itemSetStats(),
	}
}

// Streams returns the server's SSE streams, for metrics.
func (s *Server) Streams() *sse.Streams { return s.streams }
