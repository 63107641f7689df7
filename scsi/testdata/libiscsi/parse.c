/*
 * parse.c decodes the answers of parse-inputs.txt with libiscsi's
 * scsi_datain_unmarshall and prints one line per input, in the format
 * TestLibiscsiParsers prints this package's parse of the same bytes. Its
 * output is parse.txt. Build as cdbs.c (libiscsi 1.19.0):
 *
 *   gcc -o /tmp/parse parse.c -I. -l:libiscsi.so.7
 *   /tmp/parse < parse-inputs.txt > parse.txt
 *
 * Each input line is: name kind hex, where kind picks the CDB the answer
 * belongs to.
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "scsi-lowlevel.h"

static int unhex(const char *s, unsigned char *out)
{
	int n = 0;
	unsigned int v;

	while (sscanf(s, "%2x", &v) == 1) {
		out[n++] = v;
		s += 2;
	}
	return n;
}

int main(void)
{
	char name[64], kind[32], hex[20000];
	static unsigned char buf[10000];

	while (scanf("%63s %31s %19999s", name, kind, hex) == 3) {
		struct scsi_task *t;
		void *p;
		int n = unhex(hex, buf), i;

		if (!strcmp(kind, "lbastatus"))
			t = scsi_cdb_get_lba_status(0, n);
		else if (!strcmp(kind, "readkeys"))
			t = scsi_cdb_persistent_reserve_in(SCSI_PERSISTENT_RESERVE_READ_KEYS, n);
		else if (!strcmp(kind, "readres"))
			t = scsi_cdb_persistent_reserve_in(SCSI_PERSISTENT_RESERVE_READ_RESERVATION, n);
		else if (!strcmp(kind, "caps"))
			t = scsi_cdb_persistent_reserve_in(SCSI_PERSISTENT_RESERVE_REPORT_CAPABILITIES, n);
		else if (!strcmp(kind, "rsoc"))
			t = scsi_cdb_report_supported_opcodes(1, 0, 0, 0, n);
		else if (!strcmp(kind, "rsocone"))
			t = scsi_cdb_report_supported_opcodes(1, 2, 0x5e, 1, n);
		else if (!strcmp(kind, "ms6"))
			t = scsi_cdb_modesense6(0, 0, 0x3f, 0, n);
		else if (!strcmp(kind, "ms10"))
			t = scsi_cdb_modesense10(1, 0, 0, 0x3f, 0, 255);
		else if (!strcmp(kind, "toc"))
			t = scsi_cdb_readtoc(0, SCSI_READ_TOC, 0, n);
		else if (!strcmp(kind, "opparams"))
			t = scsi_cdb_receive_copy_results(SCSI_COPY_RESULTS_OP_PARAMS, 0, n);
		else
			return 1;
		t->datain.data = buf;
		t->datain.size = n;
		p = scsi_datain_unmarshall(t);
		printf("%s", name);
		if (p == NULL) {
			printf(" NULL\n");
			continue;
		}
		if (!strcmp(kind, "lbastatus")) {
			struct scsi_get_lba_status *s = p;
			for (i = 0; i < (int)s->num_descriptors; i++)
				printf(" %llx/%x/%d", (unsigned long long)s->descriptors[i].lba,
				       s->descriptors[i].num_blocks, s->descriptors[i].provisioning);
		} else if (!strcmp(kind, "readkeys")) {
			struct scsi_persistent_reserve_in_read_keys *k = p;
			printf(" gen=%u", k->prgeneration);
			for (i = 0; i < k->num_keys; i++)
				printf(" %llx", (unsigned long long)k->keys[i]);
		} else if (!strcmp(kind, "readres")) {
			struct scsi_persistent_reserve_in_read_reservation *r = p;
			printf(" gen=%u reserved=%d key=%llx scope=%d type=%d", r->prgeneration,
			       r->reserved, (unsigned long long)r->reservation_key, r->pr_scope, r->pr_type);
		} else if (!strcmp(kind, "caps")) {
			struct scsi_persistent_reserve_in_report_capabilities *c = p;
			printf(" len=%d crh=%d sip_c=%d atp_c=%d ptpl_c=%d tmv=%d allow=%d ptpl_a=%d mask=%04x",
			       c->length, c->crh, c->sip_c, c->atp_c, c->ptpl_c, c->tmv,
			       c->allow_commands, c->ptpl_a, c->persistent_reservation_type_mask);
		} else if (!strcmp(kind, "rsoc")) {
			struct scsi_report_supported_op_codes *r = p;
			for (i = 0; i < r->num_descriptors; i++) {
				struct scsi_command_descriptor *d = &r->descriptors[i];
				printf(" %02x/%x/%d/%d/%d", d->opcode, d->sa, d->servactv, d->cdb_len, d->ctdp);
				if (d->ctdp)
					printf("/%u/%u", d->to.nominal_processing_timeout, d->to.recommended_timeout);
			}
		} else if (!strcmp(kind, "rsocone")) {
			struct scsi_report_supported_op_codes_one_command *o = p;
			printf(" support=%d ctdp=%d usage=", o->support, o->ctdp);
			for (i = 0; i < o->cdb_length; i++)
				printf("%02x", o->cdb_usage_data[i]);
			if (o->ctdp)
				printf(" %u/%u", o->to.nominal_processing_timeout, o->to.recommended_timeout);
		} else if (!strcmp(kind, "ms6") || !strcmp(kind, "ms10")) {
			struct scsi_mode_sense *m = p;
			struct scsi_mode_page *mp;
			printf(" medium=%d dsp=%02x longlba=%d bdl=%d", m->medium_type,
			       m->device_specific_parameter, m->longlba, m->block_descriptor_length);
			for (mp = m->pages; mp; mp = mp->next) {
				printf(" %02x/%02x/%d/%d/%d", mp->page_code, mp->subpage_code, mp->ps, mp->spf, mp->len);
				if (mp->page_code == SCSI_MODEPAGE_CACHING && mp->subpage_code == 0) {
					struct scsi_mode_page_caching *c = &mp->caching;
					printf("[wce=%d rcd=%d disc=%d fsw=%d segs=%d maxpf=%d ceil=%d]", c->wce, c->rcd,
					       c->disc, c->fsw, c->number_of_cache_segments, c->maximum_prefetch,
					       c->maximum_prefetch_ceiling);
				}
			}
		} else if (!strcmp(kind, "toc")) {
			struct scsi_readtoc_list *l = p;
			printf(" first=%d last=%d", l->first, l->last);
			for (i = 0; i < l->num; i++)
				printf(" %d/%d/%d/%x", l->desc[i].desc.toc.adr >> 4, l->desc[i].desc.toc.control,
				       l->desc[i].desc.toc.track, l->desc[i].desc.toc.lba);
		} else if (!strcmp(kind, "opparams")) {
			struct scsi_copy_results_op_params *o = p;
			printf(" cscd=%d seg=%d list=%u seglen=%u inline=%u held=%u stream=%u total=%d max=%d gran=%d/%d/%d impl=",
			       o->max_target_desc_count, o->max_segment_desc_count, o->max_desc_list_length,
			       o->max_segment_length, o->max_inline_data_length, o->held_data_limit,
			       o->max_stream_device_transfer_size, o->total_concurrent_copies,
			       o->max_concurrent_copies, o->data_segment_granularity,
			       o->inline_data_granularity, o->held_data_granularity);
			for (i = 0; i < o->impl_desc_list_length; i++)
				printf("%02x", o->imp_desc_type_codes[i]);
		}
		printf("\n");
	}
	return 0;
}
