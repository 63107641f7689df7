/*
 * cdbs.c prints the CDBs that libiscsi's builders produce, one line per
 * call: a name, then the bytes in hex. Its output is cdbs.txt, which
 * TestLibiscsiCDBs compares with this package's builders given the same
 * arguments. Regenerate with (libiscsi 1.19.0, Debian libiscsi7):
 *
 *   git -C $LIBISCSI show 1.19.0:include/scsi-lowlevel.h > scsi-lowlevel.h
 *   gcc -o /tmp/cdbs cdbs.c -I. -l:libiscsi.so.7 && /tmp/cdbs > cdbs.txt
 *
 * Blocksize is 512 wherever libiscsi takes a byte count.
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include "scsi-lowlevel.h"

static void p(const char *name, struct scsi_task *t)
{
	int i;

	if (t == NULL) {
		printf("%s NULL\n", name);
		return;
	}
	printf("%s", name);
	for (i = 0; i < t->cdb_size; i++)
		printf(" %02x", t->cdb[i]);
	printf("\n");
	scsi_free_scsi_task(t);
}

int main(void)
{
	struct scsi_persistent_reserve_out_basic basic = {0};

	p("testunitready", scsi_cdb_testunitready());
	p("inquiry", scsi_cdb_inquiry(0, 0, 96));
	p("inquiry-vpd-b0", scsi_cdb_inquiry(1, 0xb0, 0x1234));
	p("reportluns", scsi_reportluns_cdb(2, 0x01020304));
	p("readcapacity10", scsi_cdb_readcapacity10(0, 0));
	p("readcapacity16", scsi_cdb_readcapacity16());

	p("read6", scsi_cdb_read6(0x123456, 16 * 512, 512));
	p("read6-256", scsi_cdb_read6(7, 256 * 512, 512));
	p("read10", scsi_cdb_read10(0x01020304, 0x0506 * 512, 512, 5, 1, 1, 1, 0x13));
	p("read12", scsi_cdb_read12(0x01020304, 0x00060708 * 512u, 512, 2, 0, 1, 0, 7));
	p("read16", scsi_cdb_read16(0x0102030405060708ull, 0x00090a0b * 512u, 512, 7, 1, 0, 1, 0x1f));
	p("write10", scsi_cdb_write10(0xfffffffe, 0xffff * 512, 512, 1, 1, 1, 0, 1));
	p("write12", scsi_cdb_write12(0x10, 0x20 * 512, 512, 0, 1, 1, 1, 3));
	p("write16", scsi_cdb_write16(1ull << 40, 512, 512, 3, 0, 1, 0, 0x11));
	p("writeverify10", scsi_cdb_writeverify10(0x01020304, 8 * 512, 512, 2, 1, 1, 5));
	p("writeverify12", scsi_cdb_writeverify12(0x01020304, 0x10000 * 512, 512, 0, 0, 1, 9));
	p("writeverify16", scsi_cdb_writeverify16(0x0102030405060708ull, 4 * 512, 512, 7, 1, 0, 0x1f));
	p("verify10", scsi_cdb_verify10(0x01020304, 8 * 512, 3, 1, 1, 512));
	p("verify12", scsi_cdb_verify12(0xa0b0c0d0, 0x100 * 512, 0, 0, 0, 512));
	p("verify16", scsi_cdb_verify16(0xffffffff00000001ull, 0x1000 * 512, 1, 1, 1, 512));
	p("orwrite", scsi_cdb_orwrite(0x0102030405060708ull, 0x20 * 512, 512, 4, 1, 1, 1, 6));
	p("compareandwrite", scsi_cdb_compareandwrite(0x0102030405060708ull, 2 * 8 * 512, 512, 1, 1, 1, 0, 2));
	p("writeatomic16", scsi_cdb_writeatomic16(0x0102030405060708ull, 0x80 * 512, 512, 2, 1, 1, 4));
	p("writesame10", scsi_cdb_writesame10(3, 1, 1, 0x01020304, 0x0a, 0x0506, 512));
	p("writesame10-plain", scsi_cdb_writesame10(0, 0, 0, 7, 0, 8, 512));
	p("writesame16", scsi_cdb_writesame16(0, 0, 1, 0x0102030405060708ull, 0x1f, 0x090a0b0c, 512));
	p("writesame16-ndob", scsi_cdb_writesame16(5, 1, 1, 1ull << 33, 0, 0x1000, 0));
	p("unmap", scsi_cdb_unmap(0, 0, 24));
	p("unmap-anchor", scsi_cdb_unmap(1, 0x15, 0xfff8));
	p("getlbastatus", scsi_cdb_get_lba_status(0x0102030405060708ull, 0x1000));
	p("prefetch10", scsi_cdb_prefetch10(0x01020304, 0x0506, 1, 0x11));
	p("prefetch16", scsi_cdb_prefetch16(0x0102030405060708ull, 0x10000, 0, 3));
	p("synchronizecache10", scsi_cdb_synchronizecache10(0x10, 0x20, 0, 1));
	p("synchronizecache16", scsi_cdb_synchronizecache16(1ull << 33, 0x100, 0, 1));

	p("modesense6", scsi_cdb_modesense6(1, SCSI_MODESENSE_PC_CHANGEABLE, SCSI_MODEPAGE_RETURN_ALL_PAGES, 0xff, 0xfc));
	p("modesense10", scsi_cdb_modesense10(1, 1, SCSI_MODESENSE_PC_DEFAULT, SCSI_MODEPAGE_CACHING, 0, 0xff));
	p("modesense10-all", scsi_cdb_modesense10(0, 0, SCSI_MODESENSE_PC_SAVED, SCSI_MODEPAGE_RETURN_ALL_PAGES, 0xff, 0x80));
	p("modeselect6", scsi_cdb_modeselect6(1, 1, 24));
	p("modeselect10", scsi_cdb_modeselect10(1, 0, 0x0120));

	p("prin-readkeys", scsi_cdb_persistent_reserve_in(SCSI_PERSISTENT_RESERVE_READ_KEYS, 0x1234));
	p("prin-readreservation", scsi_cdb_persistent_reserve_in(SCSI_PERSISTENT_RESERVE_READ_RESERVATION, 24));
	p("prin-reportcapabilities", scsi_cdb_persistent_reserve_in(SCSI_PERSISTENT_RESERVE_REPORT_CAPABILITIES, 8));
	p("prin-readfullstatus", scsi_cdb_persistent_reserve_in(SCSI_PERSISTENT_RESERVE_READ_FULL_STATUS, 0xffff));
	p("prout-register", scsi_cdb_persistent_reserve_out(SCSI_PERSISTENT_RESERVE_REGISTER, 0, 0, &basic));
	p("prout-reserve", scsi_cdb_persistent_reserve_out(SCSI_PERSISTENT_RESERVE_RESERVE, 0, SCSI_PERSISTENT_RESERVE_TYPE_WRITE_EXCLUSIVE, &basic));
	p("prout-release", scsi_cdb_persistent_reserve_out(SCSI_PERSISTENT_RESERVE_RELEASE, 0, SCSI_PERSISTENT_RESERVE_TYPE_EXCLUSIVE_ACCESS_ALL_REGISTRANTS, &basic));
	p("prout-clear", scsi_cdb_persistent_reserve_out(SCSI_PERSISTENT_RESERVE_CLEAR, 0, 0, &basic));
	p("prout-preempt", scsi_cdb_persistent_reserve_out(SCSI_PERSISTENT_RESERVE_PREEMPT, 0, SCSI_PERSISTENT_RESERVE_TYPE_EXCLUSIVE_ACCESS_REGISTRANTS_ONLY, &basic));
	p("prout-preemptabort", scsi_cdb_persistent_reserve_out(SCSI_PERSISTENT_RESERVE_PREEMPT_AND_ABORT, 0, SCSI_PERSISTENT_RESERVE_TYPE_WRITE_EXCLUSIVE_REGISTRANTS_ONLY, &basic));
	p("prout-registerignore", scsi_cdb_persistent_reserve_out(SCSI_PERSISTENT_RESERVE_REGISTER_AND_IGNORE_EXISTING_KEY, 0, 0, &basic));

	p("startstopunit", scsi_cdb_startstopunit(1, 0x0a, 0x03, 1, 1, 1));
	p("startstopunit-stop", scsi_cdb_startstopunit(0, 0, 0, 0, 0, 0));
	p("preventallow", scsi_cdb_preventallow(1));
	p("reserve6", scsi_cdb_reserve6());
	p("release6", scsi_cdb_release6());
	p("rsoc-all", scsi_cdb_report_supported_opcodes(1, 0, 0, 0, 0x10000));
	p("rsoc-one", scsi_cdb_report_supported_opcodes(0, 1, SCSI_OPCODE_WRITE_SAME16, 0, 512));
	p("rsoc-sa", scsi_cdb_report_supported_opcodes(1, 2, SCSI_OPCODE_SERVICE_ACTION_IN, SCSI_GET_LBA_STATUS, 64));
	p("readdefectdata10", scsi_cdb_readdefectdata10(1, 1, 5, 0x0400));
	p("readdefectdata12", scsi_cdb_readdefectdata12(1, 0, 4, 0, 0x10000));
	p("sanitize", scsi_cdb_sanitize(1, 1, SCSI_SANITIZE_OVERWRITE, 0x0c));
	p("sanitize-exit", scsi_cdb_sanitize(0, 0, SCSI_SANITIZE_EXIT_FAILURE_MODE, 0));
	p("extendedcopy", scsi_cdb_extended_copy(0x01020304));
	p("receivecopyresults", scsi_cdb_receive_copy_results(SCSI_COPY_RESULTS_OP_PARAMS, 0, 0x400));
	p("receivecopyresults-status", scsi_cdb_receive_copy_results(SCSI_COPY_RESULTS_COPY_STATUS, 0x2a, 12));
	p("readtoc", scsi_cdb_readtoc(1, SCSI_READ_TOC, 1, 0x0324));
	p("readtoc-session", scsi_cdb_readtoc(0, SCSI_READ_SESSION_INFO, 5, 12));
	return 0;
}
