package jetlog

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedOptions configures the NATS server that runs inside engaged when no
// external NATS URL is given.
type EmbeddedOptions struct {
	StoreDir     string        // JetStream file store
	Listen       string        // host:port for NATS clients (port 0 = random); empty = in-process only
	SyncAlways   bool          // fsync every write
	SyncInterval time.Duration // otherwise fsync at this interval
}

// StartEmbedded starts a JetStream-enabled NATS server. The caller must call
// Shutdown and WaitForShutdown on it.
func StartEmbedded(o EmbeddedOptions) (*server.Server, error) {
	opts := &server.Options{
		ServerName:   "engaged",
		JetStream:    true,
		StoreDir:     o.StoreDir,
		SyncAlways:   o.SyncAlways,
		SyncInterval: o.SyncInterval,
		NoSigs:       true,
		DontListen:   o.Listen == "",
		MaxPayload:   8 << 20,
	}
	if o.Listen != "" {
		host, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("ENGAGED_NATS_LISTEN %q: %w", o.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("ENGAGED_NATS_LISTEN %q: bad port", o.Listen)
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		opts.Host, opts.Port = host, p
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats: not ready after 10s")
	}
	return ns, nil
}

// Connect connects to an external NATS URL (a comma-separated list of a
// cluster's nodes), or in-process to ns when url is empty. Reconnects are
// unlimited: a NATS restart must not end the service. A node that dies
// closes its sockets and the client moves to another node at once; one that
// goes silent (a machine or network lost) is noticed after two unanswered
// pings, 2 s apart, instead of nats.go's default of two minutes apart.
func Connect(url string, ns *server.Server, name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.PingInterval(2 * time.Second), nats.MaxPingsOutstanding(2)}
	if url == "" {
		opts = append(opts, nats.InProcessServer(ns))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	return nc, nil
}
