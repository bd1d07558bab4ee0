package signal

import "time"

// SetOnSubscribed makes r call f each time Redis confirms its relay's
// subscription, so that a test publishes only once the relay listens. Call
// it before Run.
func SetOnSubscribed(r *Redis, f func()) { r.onSubscribed = f }

// SetPingInterval changes how long r's relay waits for a message before it
// checks the connection with a PING. Call it before Run.
func SetPingInterval(r *Redis, d time.Duration) { r.pingEvery = d }
