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

// ConnectOptions says where and as whom to connect. The credential and TLS
// files are for an external, secured NATS; the in-process connection to the
// embedded server needs none.
type ConnectOptions struct {
	URL    string         // external NATS URL(s), comma-separated; empty = in-process to Server
	Server *server.Server // the embedded server, when URL is empty
	Name   string         // connection name shown by the server's monitoring

	CredsFile   string // user JWT + seed (operator/JWT mode)
	NKeyFile    string // NKey user seed (nkey users); not with CredsFile
	TLSCAFile   string // PEM CA that verifies the server; empty = system roots
	TLSCertFile string // PEM client certificate, for servers that verify clients
	TLSKeyFile  string // its key
}

// Connect connects to o.URL (a comma-separated list of a cluster's nodes),
// or in-process to o.Server when o.URL is empty. Reconnects are unlimited: a
// NATS restart must not end the service. A node that dies closes its sockets
// and the client moves to another node at once; one that goes silent (a
// machine or network lost) is noticed after two unanswered pings, 2 s apart,
// instead of nats.go's default of two minutes apart.
func Connect(o ConnectOptions) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(o.Name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.PingInterval(2 * time.Second), nats.MaxPingsOutstanding(2)}
	if o.URL == "" {
		opts = append(opts, nats.InProcessServer(o.Server))
	}
	sec, err := securityOptions(o)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(o.URL, append(opts, sec...)...)
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	return nc, nil
}

// securityOptions turns o's credential and TLS files into nats.go options.
// A CA or a client certificate makes the connection require TLS, even on a
// nats:// URL, so a secured cluster is never spoken to in plain text.
func securityOptions(o ConnectOptions) ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case o.CredsFile != "" && o.NKeyFile != "":
		return nil, errors.New("connect nats: a credentials file and an NKey seed exclude each other")
	case o.CredsFile != "":
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	case o.NKeyFile != "":
		opt, err := nats.NkeyOptionFromSeed(o.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("connect nats: nkey seed %s: %w", o.NKeyFile, err)
		}
		opts = append(opts, opt)
	}
	if o.TLSCAFile != "" {
		opts = append(opts, nats.RootCAs(o.TLSCAFile))
	}
	if o.TLSCertFile != "" || o.TLSKeyFile != "" {
		opts = append(opts, nats.ClientCert(o.TLSCertFile, o.TLSKeyFile))
	}
	return opts, nil
}
