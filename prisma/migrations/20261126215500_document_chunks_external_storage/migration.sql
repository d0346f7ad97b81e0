-- PDF bytes are already compressed (Flate streams, JPEG/JBIG2 images): skip TOAST compression
-- attempts on document chunks and store them out of line as they are.
ALTER TABLE "document_chunks" ALTER COLUMN "data" SET STORAGE EXTERNAL;
