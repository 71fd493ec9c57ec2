package record

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"hash"
)

// idDomain separates these hashes from any other use of sha256; bump it only
// together with the envelope version.
const idDomain = "sfbridge.record.id/1"

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// DeriveID returns the record ID for a change: the first 160 bits of a
// sha256 over the domain, source, collection, canonical key and version,
// in lowercase base32 (32 characters). The same change always gets the same
// ID, so a re-publish after a crash is dropped by the broker's deduplication
// (DESIGN.md invariant 5); different changes collide with probability about
// n²/2¹⁶¹.
func DeriveID(source, collection string, key Key, v Version) (string, error) {
	canon, err := key.Canonical()
	if err != nil {
		return "", err
	}
	if err := v.Validate(); err != nil {
		return "", err
	}
	h := sha256.New()
	writeField(h, idDomain)
	writeField(h, source)
	writeField(h, collection)
	writeField(h, canon)
	writeField(h, string(v.kind))
	var nums [24]byte
	binary.BigEndian.PutUint64(nums[0:], v.lsn)
	binary.BigEndian.PutUint64(nums[8:], uint64(v.micros))
	binary.BigEndian.PutUint64(nums[16:], v.seq)
	h.Write(nums[:])
	sum := h.Sum(nil)
	return idEncoding.EncodeToString(sum[:20]), nil
}

// DerivedID is DeriveID for r's own fields.
func (r Record) DerivedID() (string, error) {
	return DeriveID(r.Source, r.Collection, r.Key, r.Version)
}

// writeField writes s length-prefixed, so no two field lists hash alike.
func writeField(h hash.Hash, s string) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
	h.Write([]byte(s))
}
