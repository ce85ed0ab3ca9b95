// Command kmsserver serves the in-process KMS test server on a fixed
// loopback address, so that a keygated started by hand (make run with
// KEYGATE_KMS_ENDPOINT) has a KMS-compatible endpoint to talk to:
//
//	go run ./test/kmsserver/cmd/kmsserver -addr 127.0.0.1:4599 -cloudtrail-dir /tmp/trail
//	KEYGATE_KMS_ENDPOINT=http://127.0.0.1:4599 AWS_REGION=eu-west-1 \
//	AWS_ACCESS_KEY_ID=AKIAEXAMPLE AWS_SECRET_ACCESS_KEY=x make run
//
// Keys live in memory only. With -cloudtrail-dir, the calls served are
// delivered there as CloudTrail log files every -deliver-every and at exit.
// The same endpoint answers CloudTrail's LookupEvents, so both sources of
// `keygate audit reconcile` work against it:
//
//	AWS_ENDPOINT_URL_CLOUDTRAIL=http://127.0.0.1:4599 keygate audit reconcile --since 1h --lookup
//	keygate audit reconcile --since 1h --trail-dir /tmp/trail
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/keygate/keygate/test/kmsserver"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4599", "listen address (keep it on loopback)")
	region := flag.String("region", kmsserver.DefaultRegion, "the region clients must sign for")
	account := flag.String("account", kmsserver.DefaultAccount, "the AWS account id in ARNs and CloudTrail")
	trailDir := flag.String("cloudtrail-dir", "", "directory for CloudTrail log files (none if empty)")
	every := flag.Duration("deliver-every", time.Minute, "how often CloudTrail log files are written")
	flag.Parse()

	s := kmsserver.NewHandler(*region, *account)
	srv := &http.Server{Addr: *addr, Handler: s, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		log.Printf("kmsserver: region %s account %s listening on http://%s", *region, *account, *addr)
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("kmsserver: %v", err)
		}
	}()
	deliver := func() {
		if *trailDir == "" {
			return
		}
		if path, err := s.WriteCloudTrail(*trailDir); err != nil {
			log.Printf("kmsserver: writing CloudTrail: %v", err)
		} else if path != "" {
			log.Printf("kmsserver: delivered %s", path)
		}
	}
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			deliver()
		case <-ctx.Done():
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = srv.Shutdown(shutdown)
			cancel()
			deliver()
			return
		}
	}
}
