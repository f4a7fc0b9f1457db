// Command devdb runs an embedded FerretDB (SQLite backend) for development and tests.
//
// It exists because no MongoDB server can be installed from the registries our
// machines reach, while FerretDB's Go module can: we embed it as its docs intend
// instead of `go install`ing cmd/ferretdb, whose generated version file is missing
// from the module and makes it panic at start.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:27017", "loopback host:port to listen on")
	dir := flag.String("data", "./.devdb-data", "folder for the SQLite databases")
	flag.Parse()

	abs, err := filepath.Abs(*dir)
	if err != nil {
		log.Fatalf("devdb: bad data folder: %v", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		log.Fatalf("devdb: cannot create data folder: %v", err)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		log.Fatalf("devdb: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	fmt.Fprintf(os.Stderr, "devdb: listening on %s, data in %s\n", *addr, abs)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatalf("devdb: %v", err)
	}
	fmt.Fprintln(os.Stderr, "devdb: stopped")
}
