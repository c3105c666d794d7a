/** The data pipeline's public surface: datasets, loader, image I/O and the reference's transforms. */
export * from './image';
export * from './image_errors';
export * from './image_header';
export * from './image_io';
export * from './image_cache';
export * from './pil_resize';
export * from './transforms';
export * from './color';
export * from './make_dataset';
export * from './load_job';
export * from './base_dataset';
export * from './aligned_dataset';
export * from './unaligned_dataset';
export * from './single_dataset';
export * from './colorization_dataset';
export * from './create_dataset';
export * from './data_loader';
