package series

import (
	"cmp"
	"math"
	"slices"
	"unsafe"
)

// cells is a sparse, sorted list of non-zero values keyed bucket<<5|metric:
// one per bucket and metric with a value, none for zeros (an absent cell is
// zero, so a state has one encoding).
//
// Values are int64 to their users but held in 32 bits: nearly every bucket's
// count fits, and a busy item holds ~1.4k cells, so 8 bytes a cell instead of
// 12 is a third less of what they take. The rare value that does not fit (an hour's watch time in
// milliseconds past 24 days, say) is marked in v and kept whole in big.
type cells struct {
	k   []uint32
	v   []int32    // the value, or bigMark: the value is in big
	big *[]bigCell // sorted by key; only cells marked in v; nil while none (most items)
}

type bigCell struct {
	k uint32
	v int64
}

const bigMark = math.MinInt32

func (c *cells) len() int { return len(c.k) }

// search returns where key k is or would be inserted, and whether it is.
func (c *cells) search(k uint32) (int, bool) { return slices.BinarySearch(c.k, k) }

// at returns the value of cell i.
func (c *cells) at(i int) int64 {
	if v := c.v[i]; v != bigMark {
		return int64(v)
	}
	big := *c.big
	j, _ := slices.BinarySearchFunc(big, c.k[i], byBigKey)
	return big[j].v
}

func byBigKey(b bigCell, k uint32) int { return cmp.Compare(b.k, k) }

// get returns key k's value (0 if it has no cell).
func (c *cells) get(k uint32) int64 {
	if i, ok := c.search(k); ok {
		return c.at(i)
	}
	return 0
}

// add adds d to key k's value.
func (c *cells) add(k uint32, d int64) {
	if d == 0 {
		return
	}
	i, found := c.search(k)
	if found {
		c.setAt(i, c.at(i)+d)
		return
	}
	c.insert(i, k, d)
}

// set sets key k's value to v and reports whether it changed.
func (c *cells) set(k uint32, v int64) bool {
	i, found := c.search(k)
	switch {
	case found:
		if c.at(i) == v {
			return false
		}
		c.setAt(i, v)
		return true
	case v != 0:
		c.insert(i, k, v)
		return true
	}
	return false
}

// insert puts a cell for key k (absent) with value v != 0 at position i.
func (c *cells) insert(i int, k uint32, v int64) {
	c.k = insertGrow(c.k, i, k)
	c.v = insertGrow(c.v, i, int32(0))
	c.setAt(i, v)
}

// setAt sets cell i's value; zero removes the cell.
func (c *cells) setAt(i int, v int64) {
	k := c.k[i]
	if c.v[i] == bigMark {
		big := *c.big
		j, _ := slices.BinarySearchFunc(big, k, byBigKey)
		if v != 0 && !fits(v) {
			big[j].v = v
			return
		}
		c.setBig(slices.Delete(big, j, j+1))
	}
	switch {
	case v == 0:
		c.k, c.v = slices.Delete(c.k, i, i+1), slices.Delete(c.v, i, i+1)
	case fits(v):
		c.v[i] = int32(v)
	default:
		c.v[i] = bigMark
		var big []bigCell
		if c.big != nil {
			big = *c.big
		}
		j, _ := slices.BinarySearchFunc(big, k, byBigKey)
		c.setBig(slices.Insert(big, j, bigCell{k, v}))
	}
}

// setBig keeps big as the big cells, dropping the list once empty.
func (c *cells) setBig(big []bigCell) {
	switch {
	case len(big) == 0:
		c.big = nil
	case c.big == nil:
		c.big = &big
	default:
		*c.big = big
	}
}

func fits(v int64) bool { return v > bigMark && v <= math.MaxInt32 }

// dropBefore removes every cell keyed below k.
func (c *cells) dropBefore(k uint32) {
	i, _ := c.search(k)
	if i == 0 {
		return
	}
	c.k, c.v = slices.Delete(c.k, 0, i), slices.Delete(c.v, 0, i)
	if c.big != nil {
		j, _ := slices.BinarySearchFunc(*c.big, k, byBigKey)
		c.setBig(slices.Delete(*c.big, 0, j))
	}
}

// keep removes the cells whose key keep rejects.
func (c *cells) keep(keep func(k uint32) bool) {
	n := 0
	for i, k := range c.k {
		if keep(k) {
			c.k[n], c.v[n] = k, c.v[i]
			n++
		}
	}
	c.k, c.v = c.k[:n], c.v[:n]
	if c.big != nil {
		c.setBig(slices.DeleteFunc(*c.big, func(b bigCell) bool { return !keep(b.k) }))
	}
}

// size returns the bytes the cells hold beyond the struct itself.
func (c *cells) size() int {
	n := cap(c.k)*4 + cap(c.v)*4
	if c.big != nil {
		n += int(unsafe.Sizeof([]bigCell{})) + cap(*c.big)*int(unsafe.Sizeof(bigCell{}))
	}
	return n
}
