package main

import "time"

// clock is the server's clock for SDK event receive times. Only tests move
// it, to replay the seed's examples, which are dated 2024-02-04 and would
// otherwise be rejected as more than 24 hours old.
var clock = time.Now
