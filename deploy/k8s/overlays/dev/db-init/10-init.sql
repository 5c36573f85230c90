-- The request log. Applied by MySQL's entrypoint (compose), by the API at start-up and by the
-- tests: every statement is idempotent and nothing here ever drops or truncates logged data.
CREATE DATABASE IF NOT EXISTS ImagensAPi CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE ImagensAPi;

CREATE TABLE IF NOT EXISTS Imagens (
    ID             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    data           DATETIME(3)     NOT NULL COMMENT 'request time, UTC',
    imgb64_dirty   LONGTEXT        NULL     COMMENT 'imgb64_dirty as received (JSON text if not a string)',
    imgb64_clean   LONGTEXT        NULL     COMMENT 'imgb64_clean as returned; NULL on errors',
    codigo_retorno SMALLINT        NOT NULL,
    request_id     CHAR(32)        NOT NULL COMMENT 'also the X-Request-ID response header',
    largura        INT             NULL     COMMENT 'input width in pixels, when known',
    altura         INT             NULL     COMMENT 'input height in pixels, when known',
    duracao_ms     DOUBLE          NULL     COMMENT 'time spent serving the request',
    versao_modelo  VARCHAR(64)     NULL     COMMENT 'model version that cleaned the page',
    PRIMARY KEY (ID),
    UNIQUE KEY uq_imagens_request_id (request_id),
    KEY ix_imagens_data (data),
    KEY ix_imagens_codigo (codigo_retorno)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
