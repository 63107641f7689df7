// Copyright 2011 The Go Authors. All rights reserved.
//
// Adapted from castagnoliCLMULAvx512 in crc32_amd64.s of
// github.com/klauspost/crc32 v1.3.0, Klaus Post's fork of Go's hash/crc32,
// distributed under the license below. Changes: four accumulators folded by
// 256 bytes per iteration instead of one by 64 (the loop was bound by the
// latency of one VPCLMULQDQ chain), and the final reduction in VEX/EVEX
// encodings instead of legacy SSE.
//
// Redistribution and use in source and binary forms, with or without
// modification, are permitted provided that the following conditions are
// met:
//
//    * Redistributions of source code must retain the above copyright
// notice, this list of conditions and the following disclaimer.
//    * Redistributions in binary form must reproduce the above
// copyright notice, this list of conditions and the following disclaimer
// in the documentation and/or other materials provided with the
// distribution.
//    * Neither the name of Google Inc. nor the names of its
// contributors may be used to endorse or promote products derived from
// this software without specific prior written permission.
//
// THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS
// "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT
// LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR
// A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT
// OWNER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL,
// SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT
// LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE,
// DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY
// THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT
// (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
// OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.

//go:build amd64 && !purego

#include "textflag.h"

// CRC32C by carry-less multiplication, after Intel's "Fast CRC Computation
// for Generic Polynomials Using PCLMULQDQ Instruction", in the bit-reflected
// form of the Linux kernel's crc32-pclmul (no byte reversal).
//
// A 128-bit lane of data is moved D bits further down the message by
// multiplying its low quadword by k(D+32) and its high quadword by k(D-32),
// where k(n) = reflect32(x^n mod P) << 1, P the Castagnoli polynomial
// 0x1EDC6F41; each constant pair below is {k(D+32), k(D-32)}, repeated in
// every lane of a ZMM register where it is used 512 bits at a time.

// Fold by D = 2048 bits (256 bytes): the four-accumulator loop.
DATA fold256<>+0(SB)/8, $0xdcb17aa4
DATA fold256<>+8(SB)/8, $0xb9e02b86
DATA fold256<>+16(SB)/8, $0xdcb17aa4
DATA fold256<>+24(SB)/8, $0xb9e02b86
DATA fold256<>+32(SB)/8, $0xdcb17aa4
DATA fold256<>+40(SB)/8, $0xb9e02b86
DATA fold256<>+48(SB)/8, $0xdcb17aa4
DATA fold256<>+56(SB)/8, $0xb9e02b86
GLOBL fold256<>(SB), RODATA, $64

// Fold by D = 512 bits (64 bytes): one ZMM accumulator into the next.
DATA fold64<>+0(SB)/8, $0x0740eef02
DATA fold64<>+8(SB)/8, $0x09e4addf8
DATA fold64<>+16(SB)/8, $0x0740eef02
DATA fold64<>+24(SB)/8, $0x09e4addf8
DATA fold64<>+32(SB)/8, $0x0740eef02
DATA fold64<>+40(SB)/8, $0x09e4addf8
DATA fold64<>+48(SB)/8, $0x0740eef02
DATA fold64<>+56(SB)/8, $0x09e4addf8
GLOBL fold64<>(SB), RODATA, $64

// Fold by D = 128 bits (16 bytes): the four lanes into one, then the tail.
DATA fold16<>+0(SB)/8, $0xf20c0dfe
DATA fold16<>+8(SB)/8, $0x14cd00bd6
GLOBL fold16<>(SB), RODATA, $16

// k(64): 128 bits to 96 bits.
DATA fold8<>+0(SB)/8, $0xdd45aab8
GLOBL fold8<>(SB), RODATA, $8

// Barrett reduction of 64 bits to 32: P' (the reflected polynomial with its
// x^32 term, shifted left by one) and mu.
DATA barrett<>+0(SB)/8, $0x105ec76f0
DATA barrett<>+8(SB)/8, $0xdea713f1
GLOBL barrett<>(SB), RODATA, $16

// func castagnoliAVX512(crc uint32, p []byte) uint32
//
// castagnoliAVX512 updates the non-inverted crc with p, whose length must be
// at least 64 and a multiple of 16. Needs AVX512F, AVX512VL, VPCLMULQDQ and
// the OS's support for ZMM state.
TEXT ·castagnoliAVX512(SB), NOSPLIT, $0-36
	MOVL crc+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX

	// The first 64 bytes, with the CRC in their lowest 32 bits.
	VMOVDQU64 (SI), Z1
	VMOVQ     AX, X0
	VPXORQ    Z0, Z1, Z1
	ADDQ      $64, SI
	SUBQ      $64, CX
	CMPQ      CX, $448
	JB        single

	// Four accumulators Z1-Z4 over consecutive 64-byte blocks, each folded
	// 256 bytes forward per iteration; at least one iteration follows.
	VMOVDQU64 (SI), Z2
	VMOVDQU64 64(SI), Z3
	VMOVDQU64 128(SI), Z4
	ADDQ      $192, SI
	SUBQ      $192, CX
	VMOVDQU64 fold256<>+0(SB), Z0

loop256:
	VMOVDQU64  (SI), Z11
	VMOVDQU64  64(SI), Z12
	VMOVDQU64  128(SI), Z13
	VMOVDQU64  192(SI), Z14
	VPCLMULQDQ $0x11, Z0, Z1, Z5
	VPCLMULQDQ $0x00, Z0, Z1, Z1
	VPCLMULQDQ $0x11, Z0, Z2, Z6
	VPCLMULQDQ $0x00, Z0, Z2, Z2
	VPCLMULQDQ $0x11, Z0, Z3, Z7
	VPCLMULQDQ $0x00, Z0, Z3, Z3
	VPCLMULQDQ $0x11, Z0, Z4, Z8
	VPCLMULQDQ $0x00, Z0, Z4, Z4
	VPTERNLOGD $0x96, Z11, Z5, Z1 // Z1 ^= Z5 ^ Z11
	VPTERNLOGD $0x96, Z12, Z6, Z2
	VPTERNLOGD $0x96, Z13, Z7, Z3
	VPTERNLOGD $0x96, Z14, Z8, Z4
	ADDQ       $256, SI
	SUBQ       $256, CX
	CMPQ       CX, $256
	JAE        loop256

	// Fold Z1 into Z2, Z2 into Z3 and Z3 into Z4, 64 bytes each time.
	VMOVDQU64  fold64<>+0(SB), Z0
	VPCLMULQDQ $0x11, Z0, Z1, Z5
	VPCLMULQDQ $0x00, Z0, Z1, Z1
	VPTERNLOGD $0x96, Z5, Z1, Z2
	VPCLMULQDQ $0x11, Z0, Z2, Z5
	VPCLMULQDQ $0x00, Z0, Z2, Z2
	VPTERNLOGD $0x96, Z5, Z2, Z3
	VPCLMULQDQ $0x11, Z0, Z3, Z5
	VPCLMULQDQ $0x00, Z0, Z3, Z3
	VPTERNLOGD $0x96, Z5, Z3, Z4
	VMOVDQA64  Z4, Z1

single:
	// One accumulator, 64 bytes at a time.
	VMOVDQU64 fold64<>+0(SB), Z0
	CMPQ      CX, $64
	JB        lanes

loop64:
	VMOVDQU64  (SI), Z11
	VPCLMULQDQ $0x11, Z0, Z1, Z5
	VPCLMULQDQ $0x00, Z0, Z1, Z1
	VPTERNLOGD $0x96, Z11, Z5, Z1
	ADDQ       $64, SI
	SUBQ       $64, CX
	CMPQ       CX, $64
	JAE        loop64

lanes:
	// The four 128-bit lanes of Z1 into X1.
	VEXTRACTI32X4 $1, Z1, X2
	VEXTRACTI32X4 $2, Z1, X3
	VEXTRACTI32X4 $3, Z1, X4
	VMOVDQU       fold16<>+0(SB), X0
	VPCLMULQDQ    $0x00, X0, X1, X5
	VPCLMULQDQ    $0x11, X0, X1, X1
	VPTERNLOGD    $0x96, X5, X2, X1
	VPCLMULQDQ    $0x00, X0, X1, X5
	VPCLMULQDQ    $0x11, X0, X1, X1
	VPTERNLOGD    $0x96, X5, X3, X1
	VPCLMULQDQ    $0x00, X0, X1, X5
	VPCLMULQDQ    $0x11, X0, X1, X1
	VPTERNLOGD    $0x96, X5, X4, X1
	CMPQ          CX, $16
	JB            reduce

loop16:
	// The remaining 16-byte blocks.
	VMOVDQU    (SI), X10
	VPCLMULQDQ $0x00, X0, X1, X5
	VPCLMULQDQ $0x11, X0, X1, X1
	VPTERNLOGD $0x96, X5, X10, X1
	ADDQ       $16, SI
	SUBQ       $16, CX
	CMPQ       CX, $16
	JAE        loop16

reduce:
	// 128 bits to 64 (X0 still holds fold16: its high quadword is k(96)).
	VPCMPEQB   X3, X3, X3
	VPCLMULQDQ $0x01, X1, X0, X0
	VPSRLDQ    $8, X1, X1
	VPXOR      X0, X1, X1

	// 96 bits to 64, X3 the mask of the low 32 bits of each quadword.
	VMOVQ      fold8<>+0(SB), X0
	VPSRLQ     $32, X3, X3
	VPSRLDQ    $4, X1, X2
	VPAND      X3, X1, X1
	VPCLMULQDQ $0x00, X0, X1, X1
	VPXOR      X2, X1, X1

	// Barrett reduction to 32 bits.
	VMOVDQU    barrett<>+0(SB), X0
	VPAND      X3, X1, X4
	VPCLMULQDQ $0x10, X0, X4, X4
	VPAND      X3, X4, X4
	VPCLMULQDQ $0x00, X0, X4, X4
	VPXOR      X1, X4, X1

	VPEXTRD $1, X1, AX
	MOVL    AX, ret+32(FP)
	VZEROUPPER
	RET
