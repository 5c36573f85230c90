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
    saida          VARCHAR(16)     NULL     COMMENT 'answer mode: cinza, cor or binaria; NULL before a valid one was read',
    PRIMARY KEY (ID),
    UNIQUE KEY uq_imagens_request_id (request_id),
    KEY ix_imagens_data (data),
    KEY ix_imagens_codigo (codigo_retorno)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The output modes' column, for tables made before it (issue 36). MySQL has no ADD COLUMN IF NOT
-- EXISTS (MariaDB has), so the ALTER runs only when information_schema lacks the column; old rows
-- keep NULL.
SET @ddd_saida = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE Imagens ADD COLUMN saida VARCHAR(16) NULL COMMENT ''answer mode: cinza, cor or binaria; NULL before a valid one was read'' AFTER versao_modelo', 'DO 0') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'Imagens' AND COLUMN_NAME = 'saida');
PREPARE ddd_saida FROM @ddd_saida;
EXECUTE ddd_saida;
DEALLOCATE PREPARE ddd_saida;
