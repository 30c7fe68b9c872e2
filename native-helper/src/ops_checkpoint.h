/* SPDX-License-Identifier: MIT */
/*
 * The requests about checkpoints: dump, restore, list, delete, rename,
 * image_files, read_image, core. Each handler validates its request, calls the
 * engine or the store with plain parameters and marshals the answer.
 */
#ifndef CKPT_OPS_CHECKPOINT_H
#define CKPT_OPS_CHECKPOINT_H

#include "wire.h"

void op_dump(const Request *req, Response *resp);
void op_restore(const Request *req, Response *resp);
void op_list(const Request *req, Response *resp);
void op_delete(const Request *req, Response *resp);
void op_rename(const Request *req, Response *resp);
void op_image_files(const Request *req, Response *resp);
void op_page_diff(const Request *req, Response *resp);
void op_read_image(const Request *req, Response *resp);
void op_core(const Request *req, Response *resp);

/*
 * The checks of a dump and of a core request, apart from the work: 0 when
 * it may go ahead, else resp is the error saying why. They change nothing
 * and send nothing (the fuzz targets run them alone).
 */
int dump_request_check(const DumpRequest *d, Response *resp);
int core_request_check(const CoreRequest *rq, Response *resp);

#endif
