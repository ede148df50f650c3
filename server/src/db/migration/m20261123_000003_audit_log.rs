use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    Timestamp,
    Action,
    Ip,
    Actor,
    Outcome,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(big_pk_auto(AuditLog::Id))
                    .col(timestamp_with_time_zone(AuditLog::Timestamp))
                    .col(string_len(AuditLog::Action, 64))
                    .col(string_len(AuditLog::Ip, 64).default(""))
                    .col(string_len(AuditLog::Actor, 64).default(""))
                    .col(string_len(AuditLog::Outcome, 32).default("ok"))
                    .col(text(AuditLog::Detail).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_audit_log_action").table(AuditLog::Table).col(AuditLog::Action).to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_timestamp")
                    .table(AuditLog::Table)
                    .col(AuditLog::Timestamp)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AuditLog::Table).to_owned()).await
    }
}
