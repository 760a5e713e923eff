package main

import (
	"log/slog"
	"net/url"

	"github.com/engagedhq/engaged/config"
	"github.com/engagedhq/engaged/persist"
	"github.com/engagedhq/engaged/transport/httpapi"
	"github.com/engagedhq/engaged/transport/mail"
	"github.com/engagedhq/engaged/transport/sysevents"
)

// shareOptions wires share links, the public page, e-mail and the pixel:
// SMTP when ENGAGED_SMTP_URL is set, otherwise e-mails go to the log; the
// pixel key from ENGAGED_PIXEL_SECRET or the data directory.
func shareOptions(cfg config.Config, store *persist.Store, logger *slog.Logger) (httpapi.ShareOptions, error) {
	key, err := cfg.PixelKey()
	if err != nil {
		return httpapi.ShareOptions{}, err
	}
	var mailer httpapi.Mailer = mail.LogMailer{Logger: logger}
	mode := "log (ENGAGED_SMTP_URL is not set)"
	if cfg.SMTPURL != "" {
		mode = "smtp"
		helo := "localhost"
		if u, err := url.Parse(cfg.PublicBaseURL); err == nil && u.Hostname() != "" {
			helo = u.Hostname()
		}
		if mailer, err = mail.NewSMTPMailer(cfg.SMTPURL, helo); err != nil {
			return httpapi.ShareOptions{}, err
		}
	}
	logger.Info("shares", "public_url", cfg.PublicBaseURL, "mail", mode, "system_subject", sysevents.Subject,
		"public_ip_limit", cfg.PublicIPLimit.String(), "public_share_limit", cfg.PublicShareLimit.String())
	return httpapi.ShareOptions{
		Store:         store,
		Mailer:        mailer,
		MailFrom:      cfg.MailFrom,
		PublicBaseURL: cfg.PublicBaseURL,
		PixelKey:      key,
		IPLimit:       httpapi.RateLimit{N: cfg.PublicIPLimit.N, Per: cfg.PublicIPLimit.Per},
		ShareLimit:    httpapi.RateLimit{N: cfg.PublicShareLimit.N, Per: cfg.PublicShareLimit.Per},
		Bots:          httpapi.BotOptions{GenericClients: cfg.BotGenericClients},
	}, nil
}
