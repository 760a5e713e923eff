package httpapi

import "github.com/gofiber/fiber/v2"

// getStats serves GET /stats: operator counters of the share, public,
// e-mail and internal-subject paths since start.
func (s *Server) getStats(c *fiber.Ctx) error {
	st := &s.sh.stats
	var accepted, duplicate, rejected, failed int64
	if s.opts.SystemCounts != nil {
		accepted, duplicate, rejected, failed = s.opts.SystemCounts()
	}
	return c.JSON(fiber.Map{
		"systemEvents": fiber.Map{
			"accepted": accepted, "duplicate": duplicate,
			"rejected": rejected, "failed": failed,
		},
		"public": fiber.Map{
			"rateLimited": st.rateLimited.Load(), "pixelsInvalid": st.pixelsInvalid.Load(),
			"opensNotRecorded": st.opensNotRecorded.Load(),
			"ipLimiters":       s.sh.byIP.len(), "shareLimiters": s.sh.byShare.len(),
		},
		"mail": fiber.Map{"sent": st.mailSent.Load(), "failed": st.mailFailed.Load()},
	})
}
