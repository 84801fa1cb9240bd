/* The libpq functions radiant calls, forwarding to libpq.so.5 loaded on
 * first use (see lazylib.h). A function radiant starts to call must be
 * added here, or the link fails (radiant is not linked with -lpq). */
#include <libpq-fe.h>

#include "core/lazylib.h"

#define LIBPQ_FUNCTIONS(X)                                                               \
    X(PQclear) X(PQcmdTuples) X(PQconnectdb) X(PQconsumeInput) X(PQerrorMessage)         \
    X(PQescapeIdentifier) X(PQescapeLiteral) X(PQexec) X(PQexecParams) X(PQfinish)       \
    X(PQflush) X(PQfreemem) X(PQgetCopyData) X(PQgetResult) X(PQgetisnull) X(PQgetvalue) \
    X(PQnfields) X(PQntuples) X(PQping) X(PQputCopyData) X(PQresultErrorField)           \
    X(PQresultErrorMessage) X(PQresultStatus) X(PQsetNoticeProcessor) X(PQsocket)        \
    X(PQstatus)

RD_LAZYLIB_DEFINE("libpq.so.5", "libpq5", LIBPQ_FUNCTIONS)

#define REAL(name) RD_LAZY_REAL(name)

PGconn *PQconnectdb(const char *conninfo) { return REAL(PQconnectdb)(conninfo); }
void PQfinish(PGconn *conn) { REAL(PQfinish)(conn); }
ConnStatusType PQstatus(const PGconn *conn) { return REAL(PQstatus)(conn); }
char *PQerrorMessage(const PGconn *conn) { return REAL(PQerrorMessage)(conn); }
int PQsocket(const PGconn *conn) { return REAL(PQsocket)(conn); }
PGPing PQping(const char *conninfo) { return REAL(PQping)(conninfo); }

PQnoticeProcessor PQsetNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg)
{
    return REAL(PQsetNoticeProcessor)(conn, proc, arg);
}

PGresult *PQexec(PGconn *conn, const char *query) { return REAL(PQexec)(conn, query); }

PGresult *PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                       const char *const *paramValues, const int *paramLengths,
                       const int *paramFormats, int resultFormat)
{
    return REAL(PQexecParams)(conn, command, nParams, paramTypes, paramValues, paramLengths,
                              paramFormats, resultFormat);
}

PGresult *PQgetResult(PGconn *conn) { return REAL(PQgetResult)(conn); }
int PQconsumeInput(PGconn *conn) { return REAL(PQconsumeInput)(conn); }
int PQflush(PGconn *conn) { return REAL(PQflush)(conn); }

int PQputCopyData(PGconn *conn, const char *buffer, int nbytes)
{
    return REAL(PQputCopyData)(conn, buffer, nbytes);
}

int PQgetCopyData(PGconn *conn, char **buffer, int async)
{
    return REAL(PQgetCopyData)(conn, buffer, async);
}

ExecStatusType PQresultStatus(const PGresult *res) { return REAL(PQresultStatus)(res); }
char *PQresultErrorMessage(const PGresult *res) { return REAL(PQresultErrorMessage)(res); }

char *PQresultErrorField(const PGresult *res, int fieldcode)
{
    return REAL(PQresultErrorField)(res, fieldcode);
}

int PQntuples(const PGresult *res) { return REAL(PQntuples)(res); }
int PQnfields(const PGresult *res) { return REAL(PQnfields)(res); }
char *PQcmdTuples(PGresult *res) { return REAL(PQcmdTuples)(res); }

char *PQgetvalue(const PGresult *res, int tup_num, int field_num)
{
    return REAL(PQgetvalue)(res, tup_num, field_num);
}

int PQgetisnull(const PGresult *res, int tup_num, int field_num)
{
    return REAL(PQgetisnull)(res, tup_num, field_num);
}

void PQclear(PGresult *res) { REAL(PQclear)(res); }
void PQfreemem(void *ptr) { REAL(PQfreemem)(ptr); }

char *PQescapeLiteral(PGconn *conn, const char *str, size_t len)
{
    return REAL(PQescapeLiteral)(conn, str, len);
}

char *PQescapeIdentifier(PGconn *conn, const char *str, size_t len)
{
    return REAL(PQescapeIdentifier)(conn, str, len);
}
